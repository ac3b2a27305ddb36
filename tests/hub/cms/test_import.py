"""Importing official documents: the action plan, the command, the admin action, the demo."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from hub.cms import demo
from hub.cms.models import NewsArticlePage, PolicyDocumentPage
from hub.cms.services import ImportRefused, policy_import_official_text
from tests.factories import UserFactory
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db

ACTION_PLAN = demo.ACTION_PLAN.read_text(encoding="utf-8")
PLAIN = (
    "关于开展测试工作的通知\n为做好测试，现通知如下。\n一、工作目标\n完成测试。\n（一）组织保障\n各单位要加强领导。\n"
)


@pytest.fixture
def library():
    return pages.policy_library(pages.home())


def test_the_action_plan_becomes_a_policy_page_with_its_real_metadata_and_chapters(client, library):
    result = policy_import_official_text(library=library, text=ACTION_PLAN, publish=True)
    page = PolicyDocumentPage.objects.get(pk=result.page.pk)
    assert page.title == "安徽省通用人工智能创新发展三年行动计划(2023—2025年)"
    assert (page.index_number, page.category, page.issuing_body, page.topic, page.publish_date) == (
        "113417000032449839/202310-00033",
        "上级文件",
        "宣城市科学技术局",
        "科技、教育",
        datetime.date(2023, 10, 27),
    )
    chapters = [item["text"] for item in page.toc() if item["level"] == "2"]
    assert chapters == ["一、总体思路", "二、行动目标", "三、重点任务", "四、保障措施"]
    assert "(一)实施智算平台加速行动,确保算力充裕" in [item["text"] for item in page.toc() if item["level"] == "3"]
    html = client.get(page.url).content.decode()
    assert "为抢抓通用人工智能加速发展历史机遇" in html and "相关产品上市前的安全测试。" in html
    assert "拼音" not in html.split("<main")[1]  # the captured site's toolbar is not part of the document


def test_a_text_without_its_metadata_is_refused_naming_what_is_missing(library):
    with pytest.raises(ImportRefused, match="索引号, 组配分类, 发布机构, 主题分类, 发布日期"):
        policy_import_official_text(library=library, text=PLAIN)
    result = policy_import_official_text(
        library=library,
        text=PLAIN,
        overrides={
            "index_number": "T-1",
            "category": "本级文件",
            "issuing_body": "测试局",
            "topic": "科技",
            "publish_date": "2026-11-27",
        },
    )
    assert result.page.live is False  # a draft until an editor publishes it
    assert (result.headings, result.paragraphs) == (2, 3)


def test_a_document_cannot_be_imported_twice(library):
    policy_import_official_text(library=library, text=ACTION_PLAN)
    with pytest.raises(ImportRefused, match="exists already"):
        policy_import_official_text(library=library, text=ACTION_PLAN)


def test_the_import_command(library, tmp_path, capsys):
    path = tmp_path / "plan.txt"
    path.write_bytes(ACTION_PLAN.encode("gb18030"))  # many government sites still serve GBK
    call_command("import_official_text", str(path), "--library", "policies", "--publish")
    assert "published: 安徽省通用人工智能创新发展三年行动计划" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no policy library"):
        call_command("import_official_text", str(path), "--library", "nope")
    with pytest.raises(CommandError, match="exists already"):
        call_command("import_official_text", str(path), "--library", "policies")


def test_an_editor_imports_through_the_admin_and_lands_on_the_draft(client, library):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    upload = SimpleUploadedFile("plan.txt", ACTION_PLAN.encode(), content_type="text/plain")
    response = client.post("/cms/import-official-text/", {"library": library.pk, "file": upload})
    page = PolicyDocumentPage.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cms/pages/{page.pk}/edit/"


def test_the_admin_import_explains_a_refusal(client, library):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.post("/cms/import-official-text/", {"library": library.pk, "text": PLAIN})
    assert response.status_code == 200
    assert "索引号" in " ".join(response.context["form"].non_field_errors())
    assert not PolicyDocumentPage.objects.exists()


def test_someone_who_may_not_add_policies_cannot_import(client, library):
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/cms/import-official-text/").status_code in (302, 403)


def test_demo_content_loads_once(client):
    list(demo.load())
    list(demo.load())
    # one live copy in each language
    assert PolicyDocumentPage.objects.filter(index_number=demo.ACTION_PLAN_INDEX, live=True).count() == 2
    assert NewsArticlePage.objects.filter(locale__language_code="zh-hans").count() == len(demo.NEWS)
    assert NewsArticlePage.objects.filter(locale__language_code="en").count() == len(demo.NEWS)
    home = client.get("/").content.decode()
    assert "安徽省通用人工智能创新发展三年行动计划" in home and "皖智汇平台上线试运行" in home

"""Policy documents: disclosure metadata, validity and replacement, the library's filters and feeds."""

import datetime
import json

import pytest
from defusedxml import ElementTree as ET
from django.core.exceptions import ValidationError

from hub.cms.models import PolicyDocumentPage
from hub.events.models import OutboxEvent
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db


@pytest.fixture
def library():
    return pages.policy_library(pages.home())


def test_a_policy_page_shows_every_disclosure_field_and_a_table_of_contents(client, library):
    doc = pages.policy_document(
        library, document_number="皖政〔2023〕12号", written_date=datetime.date(2023, 10, 20), keywords="人工智能"
    )
    html = client.get(doc.url).content.decode()
    for label, value in [
        ("索引号", doc.index_number),
        ("组配分类", "上级文件"),
        ("发布机构", "宣城市科学技术局"),
        ("主题分类", "科技、教育"),
        ("发文字号", "皖政〔2023〕12号"),
        ("成文日期", "2023-10-20"),
        ("发布日期", "2023-10-27"),
        ("主题词", "人工智能"),
    ]:
        assert label in html and value in html, label
    assert 'href="#h-一总体思路"' in html and 'id="h-一总体思路"' in html
    assert f'<link rel="canonical" href="http://localhost{doc.url}">' in html
    assert '<meta property="og:type" content="article">' in html


def test_section_pages_are_described_by_their_intro(client, library):
    library.intro = "政府信息公开：政策文件库"
    library.save_revision().publish()
    html = client.get(library.url).content.decode()
    assert '<meta name="description" content="政府信息公开：政策文件库">' in html
    assert '<meta property="og:type" content="website">' in html


def test_a_repealed_document_is_marked_and_links_to_its_replacement(client, library):
    new = pages.policy_document(library, title="新政策")
    old = pages.policy_document(library, title="旧政策", validity="repealed", replaced_by=new)
    html = client.get(old.url).content.decode()
    assert "本文件已废止。" in html
    assert f'href="{new.url}">新政策</a>' in html
    new_en = pages.translate(new, title="New policy")
    old_en = pages.translate(old, title="Old policy")
    html = client.get(old_en.url).content.decode()
    assert old_en.url.startswith("/en/")
    assert "This document is Repealed." in html
    assert f'href="{new_en.url}">New policy</a>' in html  # the replacement in the reader's language


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"document_number": "皖政2023-12"}, "document_number", "issuer〔year〕number号"),
        ({"written_date": datetime.date(2023, 11, 1)}, "written_date", "written after it was published"),
    ],
)
def test_bad_metadata_is_refused_with_a_reason(library, fields, field, message):
    doc = pages.policy_document(library, publish=False)
    for name, value in fields.items():
        setattr(doc, name, value)
    with pytest.raises(ValidationError) as error:
        doc.full_clean()
    assert message in " ".join(error.value.message_dict[field])


def test_a_document_with_a_replacement_cannot_stay_valid(library):
    new = pages.policy_document(library)
    doc = pages.policy_document(library, publish=False)
    doc.replaced_by = new
    with pytest.raises(ValidationError, match="amended or repealed"):
        doc.full_clean()


def test_the_index_number_is_unique_within_a_language(library):
    original = pages.policy_document(library, index_number="X-1")
    with pytest.raises(ValidationError, match="exists already"):
        PolicyDocumentPage(title="重复", index_number="X-1", locale=library.locale).clean()
    translation = pages.translate(original, title="Duplicate", publish=False).specific
    translation.clean()  # the English translation shares the number
    assert translation.index_number == "X-1"


def test_the_library_filters_by_topic_body_year_and_validity_and_sorts(client, library):
    a = pages.policy_document(library, title="甲", topic="科技、教育", publish_date=datetime.date(2023, 1, 5))
    b = pages.policy_document(
        library, title="乙", topic="工业", issuing_body="安徽省人民政府", publish_date=datetime.date(2024, 3, 1)
    )
    c = pages.policy_document(
        library, title="丙", topic="教育", validity="expired", publish_date=datetime.date(2024, 6, 1)
    )

    def titles(**query):
        return [doc.title for doc in client.get(library.url, query).context["page_obj"].object_list]

    assert titles() == ["丙", "乙", "甲"]
    assert titles(topic="教育") == ["丙", "甲"]
    assert titles(issuing_body="安徽省人民政府") == ["乙"]
    assert titles(year="2024", sort="oldest") == ["乙", "丙"]
    assert titles(validity="expired") == ["丙"]
    assert titles(sort="title") == sorted([a.title, b.title, c.title])
    assert "没有符合" in client.get(library.url, {"validity": "amended"}).content.decode()


def test_a_filter_value_that_does_not_exist_is_a_form_error_not_a_500(client, library):
    pages.policy_document(library)
    response = client.get(library.url, {"year": "1900", "sort": "drop table"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"year", "sort"}


def test_the_library_pages_twenty_at_a_time_keeping_the_filters(client, library):
    for _ in range(21):
        pages.policy_document(library)
    response = client.get(library.url, {"topic": "教育"})
    assert len(response.context["page_obj"].object_list) == 20
    assert "topic=%E6%95%99%E8%82%B2&amp;page=2" in response.content.decode()


def test_policy_feeds_list_published_documents_in_rss_and_atom(client, library):
    pages.policy_document(library, title="已发布政策")
    pages.policy_document(library, title="草稿政策", publish=False)
    rss = ET.fromstring(client.get("/feeds/policies/rss/").content)
    assert [item.findtext("title") for item in rss.iter("item")] == ["已发布政策"]
    atom = ET.fromstring(client.get("/feeds/policies/atom/").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [entry.findtext("a:title", namespaces=ns) for entry in atom.findall("a:entry", ns)] == ["已发布政策"]


def test_news_feed_and_sitemap(client):
    home = pages.home()
    article = pages.news_article(pages.news_index(home), title="大模型创新大赛启动")
    assert "大模型创新大赛启动" in client.get("/feeds/news/rss/").content.decode()
    sitemap = client.get("/sitemap.xml").content.decode()
    assert f"http://localhost{article.url}" in sitemap


def test_publishing_and_unpublishing_a_page_publish_cms_events(library):
    doc = pages.policy_document(library)
    doc.unpublish()
    events = [json.loads(body) for body in OutboxEvent.objects.order_by("id").values_list("body", flat=True)]
    doc_events = [e for e in events if e["data"]["page_id"] == doc.pk]
    assert [e["type"] for e in doc_events] == ["cms.page.published.v1", "cms.page.unpublished.v1"]
    assert doc_events[0]["data"]["page_type"] == "cms.policydocumentpage"
    assert doc_events[0]["data"]["title"] == doc.title
    published, unpublished = (event["data"] for event in doc_events)
    assert published["kind"] == "policy"
    assert published["topic"] == doc.topic and published["issuing_body"] == doc.issuing_body
    assert published["date"] == doc.publish_date.isoformat()
    assert published["body_text"]  # the body's text, for search
    assert "<" not in published["body_text"]
    assert unpublished["version"] > published["version"] > 0  # the later event wins in the index

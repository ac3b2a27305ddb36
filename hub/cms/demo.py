"""Demo portal: home page, news, the policy library with the programme's action plan, an announcement."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from django.contrib.auth.models import Group
from django.db import transaction
from wagtail.models import Locale, Page, Site

from hub.accounts.models import User
from hub.cms.models import (
    AnnouncementIndexPage,
    AnnouncementPage,
    HomePage,
    NewsArticlePage,
    NewsIndexPage,
    PolicyDocumentPage,
    PolicyLibraryPage,
    StandardPage,
)
from hub.cms.services import policy_import_official_text

ACTION_PLAN = Path(__file__).parent / "demo_content" / "action-plan.txt"
ACTION_PLAN_INDEX = "113417000032449839/202310-00033"

NEWS = [
    (
        "皖智汇平台上线试运行",
        date(2026, 11, 20),
        "平台汇聚赛事、基金、场景与政策服务，面向全省开放试运行。（示例新闻）",
    ),
    (
        "首届通用人工智能大模型应用创新大赛启动报名",
        date(2026, 11, 10),
        "大赛设工业、政务、教育等赛道，欢迎团队报名。（示例新闻）",
    ),
    ("省级算力券申领指南发布", date(2026, 10, 28), "符合条件的初创企业可申领算力补贴。（示例新闻）"),
]

# The English site: each page's translation by its slug (same slugs, so /en/ mirrors the Chinese paths).
# The action plan's official text exists in Chinese only; its translation says so in its summary.
ENGLISH = {
    "home": {
        "title": "Wanzhi · General AI Open Platform",
        "intro": "Computing power, data, scenarios and funding for general AI across the province.",
    },
    "policies": {"title": "Policies", "intro": "Government information disclosure: policy documents"},
    "news": {"title": "News"},
    "notices": {"title": "Notices"},
    "accessibility": {
        "title": "Accessibility statement",
        "intro": "This site follows GB/T 37668 and the elder-friendly design rules.",
    },
    "news-20261120": {
        "title": "Wanzhi opens for a trial run",
        "summary": "Competitions, funds, scenarios and policy services in one place, open province-wide. (demo)",
    },
    "news-20261110": {
        "title": "Entries open for the first general-AI model application competition",
        "summary": "Tracks for industry, government services and education; teams are welcome. (demo)",
    },
    "news-20261028": {
        "title": "Guide to the provincial compute vouchers published",
        "summary": "Eligible startups can apply for compute subsidies. (demo)",
    },
    "scenario-call-2027": {
        "title": "Call for AI application scenarios for 2027 (demo)",
        "summary": "Government bodies and enterprises are invited to submit the scenarios they want AI to solve.",
    },
}
ACTION_PLAN_ENGLISH = {
    "title": "Anhui Three-Year Action Plan for General AI Innovation (2023–2025)",
    "summary": "The official text of this document is published in Chinese.",
}


def _add(parent: Page, page: Page, *, in_menu: bool = False) -> Page:
    page.show_in_menus = in_menu
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


def _section(parent: Page, model: type[Page], **fields: object) -> Page:
    """A top section of the site, shown in the main navigation."""
    existing = model.objects.child_of(parent).first()
    return existing or _add(parent, model(**fields), in_menu=True)


def _translate_into_english(home: HomePage) -> None:
    """Publish an English translation of every page that has none yet, parents first."""
    english = Locale.objects.get_or_create(language_code="en")[0]
    for page in home.get_descendants(inclusive=True).specific().order_by("path"):
        if page.get_translation_or_none(english) is not None:
            continue
        translation = page.copy_for_translation(english)
        fields = (
            ACTION_PLAN_ENGLISH
            if getattr(page, "index_number", "") == ACTION_PLAN_INDEX
            else ENGLISH.get(page.slug, {})
        )
        for name, value in fields.items():
            setattr(translation, name, value)
        if isinstance(translation, NewsArticlePage | AnnouncementPage):
            translation.body = [{"type": "paragraph", "value": f"<p>{translation.summary}</p>"}]
        translation.save_revision().publish()


def _home() -> HomePage:
    home = HomePage.objects.filter(locale=Locale.get_default()).first()
    if home is None:
        # Wagtail's first migration leaves a plain Page with the slug 'home' as the site root.
        Page.objects.filter(depth=2, content_type__model="page", slug="home").delete()
        home = _add(
            Page.get_first_root_node(),
            HomePage(
                title="皖智汇 · 通用人工智能开放平台",
                slug="home",
                intro="汇聚算力、数据、场景与资金，服务全省通用人工智能创新发展。",
            ),
        )
        Site.objects.update_or_create(
            is_default_site=True, defaults={"root_page": home, "hostname": "localhost", "site_name": "皖智汇"}
        )
    return home


def load() -> Iterator[str]:
    with transaction.atomic():
        home = _home()
        library = _section(home, PolicyLibraryPage, title="政策文件", slug="policies", intro="政府信息公开：政策文件库")
        if not PolicyDocumentPage.objects.filter(index_number=ACTION_PLAN_INDEX).exists():
            policy_import_official_text(
                library=library,
                text=ACTION_PLAN.read_text(encoding="utf-8"),
                publish=True,
            )
        news = _section(home, NewsIndexPage, title="新闻动态", slug="news")
        for title, day, summary in NEWS:
            if not NewsArticlePage.objects.filter(title=title).exists():
                body = [{"type": "paragraph", "value": f"<p>{summary}</p>"}]
                _add(
                    news, NewsArticlePage(title=title, slug=f"news-{day:%Y%m%d}", date=day, summary=summary, body=body)
                )
        notices = _section(home, AnnouncementIndexPage, title="通知公告", slug="notices")
        if not AnnouncementPage.objects.exists():
            _add(
                notices,
                AnnouncementPage(
                    title="关于征集2027年度人工智能应用场景需求的通知（示例）",
                    slug="scenario-call-2027",
                    kind=AnnouncementPage.Kind.SCENARIO_CALL,
                    date=date(2026, 11, 15),
                    summary="面向政府部门和企业征集人工智能应用场景需求。（示例公告）",
                    body=[{"type": "paragraph", "value": "<p>请于截止日期前通过平台提交场景需求。</p>"}],
                ),
            )
        _section(
            home,
            StandardPage,
            title="无障碍声明",
            slug="accessibility",
            intro="本站遵循 GB/T 37668 与适老化设计规范。",
            body=[{"type": "paragraph", "value": "<p>如在使用中遇到障碍，请通过页面底部联系方式告诉我们。</p>"}],
        )
        _translate_into_english(home)
    editor = User.objects.filter(username="editor").first()
    editors = Group.objects.filter(name="Editors").first()  # made by Wagtail's first migrations
    if editor and editors:
        editor.groups.add(editors)  # editors draft and submit; moderators (and admins) publish
    yield f"  home page  {home.title}  (policies, news, notices, accessibility statement; English under /en/)"

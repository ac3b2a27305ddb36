"""Builders for portal page trees in tests (Wagtail pages are made through the tree, not factories)."""

from __future__ import annotations

import datetime
import itertools

from django.conf import settings
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Locale, Page, Site

from hub.cms import demo
from hub.cms.models import (
    AnnouncementIndexPage,
    AnnouncementPage,
    HomePage,
    NewsArticlePage,
    NewsIndexPage,
    PolicyDocumentPage,
    PolicyLibraryPage,
)

_numbers = itertools.count(1)


def add(parent: Page, page: Page, *, publish: bool = True) -> Page:
    page.live = publish  # a page added to the tree is live unless told otherwise
    parent.add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
        page.refresh_from_db()
    return page


def tree_root() -> Page:
    """Wagtail's root page, with the default locale.

    A transactional test starts from empty tables, without the root page and locale Wagtail's
    migrations made, so they are made again here when missing.
    """
    Locale.objects.get_or_create(language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE))
    return Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))


def english() -> Locale:
    return Locale.objects.get_or_create(language_code="en")[0]


def translate(page: Page, *, title: str, publish: bool = True) -> Page:
    """The page's English translation (its parents are translated too, as drafts, when missing)."""
    translation = page.specific.copy_for_translation(english(), copy_parents=True)
    translation.title = title
    revision = translation.save_revision()
    if publish:
        revision.publish()
        translation.refresh_from_db()
    return translation


def demo_portal() -> None:
    """The whole demo portal (home, policy library with the action plan, news, announcements)."""
    tree_root()
    list(demo.load())


def home() -> HomePage:
    """A HomePage as the default site's root (Wagtail's placeholder page goes)."""
    root = tree_root()
    Page.objects.filter(depth=2, content_type__model="page").delete()
    page = add(root, HomePage(title="皖智汇", slug="home"))
    Site.objects.update_or_create(is_default_site=True, defaults={"root_page": page, "hostname": "localhost"})
    return page


def policy_library(parent: HomePage) -> PolicyLibraryPage:
    return add(parent, PolicyLibraryPage(title="政策文件", slug="policies"))


def policy_document(library: PolicyLibraryPage, *, publish: bool = True, **fields) -> PolicyDocumentPage:
    n = next(_numbers)
    defaults = {
        "title": f"关于支持人工智能产业发展的若干政策{n}",
        "slug": f"policy-{n}",
        "index_number": f"113417000032449839/2023{n:02d}-000{n:02d}",
        "topic": "科技、教育",
        "category": "上级文件",
        "issuing_body": "宣城市科学技术局",
        "publish_date": datetime.date(2023, 10, 27),
        "body": [
            {"type": "heading", "value": {"level": "2", "number": "一、", "text": "总体思路"}},
            {"type": "paragraph", "value": "<p>正文。</p>"},
        ],
    }
    return add(library, PolicyDocumentPage(**{**defaults, **fields}), publish=publish)


def news_article(index: NewsIndexPage, **fields) -> NewsArticlePage:
    n = next(_numbers)
    defaults = {
        "title": f"新闻{n}",
        "slug": f"news-{n}",
        "date": datetime.date(2026, 11, n % 28 + 1),
        "summary": f"摘要{n}",
        "body": [{"type": "paragraph", "value": "<p>内容</p>"}],
    }
    return add(index, NewsArticlePage(**{**defaults, **fields}))


def news_index(parent: HomePage) -> NewsIndexPage:
    return add(parent, NewsIndexPage(title="新闻动态", slug="news"))


def announcement(parent: HomePage, **fields) -> AnnouncementPage:
    index = AnnouncementIndexPage.objects.first() or add(
        parent, AnnouncementIndexPage(title="通知公告", slug="notices")
    )
    n = next(_numbers)
    defaults = {
        "title": f"公告{n}",
        "slug": f"notice-{n}",
        "date": datetime.date(2026, 11, 1),
        "kind": "competition",
        "body": [{"type": "paragraph", "value": "<p>内容</p>"}],
    }
    return add(index, AnnouncementPage(**{**defaults, **fields}))

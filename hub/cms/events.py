"""Events the CMS publishes (topic `cms`): the indexer and webhooks follow what the public can read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone
from django.utils.html import strip_tags
from wagtail.fields import StreamField
from wagtail.models import Page

from hub.events.registry import Event, event_type

BODY_TEXT_LIMIT = 20_000  # characters of plain text the search index gets per page

# page model → the kind of document readers search for
PAGE_KINDS = {
    "cms.policydocumentpage": "policy",
    "cms.newsarticlepage": "news",
    "cms.announcementpage": "announcement",
}


def next_page_version() -> int:
    """A number that grows with every publish and unpublish, so consumers can drop stale page events.

    A database sequence rather than a clock or the revision id: an unpublish makes no revision, and
    several web processes share no clock worth trusting.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('cms_page_event_version')")
        return int(cursor.fetchone()[0])


def page_type(page: Page) -> str:
    return page.specific_class._meta.label_lower


def _plain_text(page: Page) -> str:
    parts: list[str] = []
    for field in page._meta.get_fields():
        if isinstance(field, StreamField):
            value = getattr(page, field.name)
            parts.extend(field.stream_block.get_searchable_content(value))
    return strip_tags(" ".join(parts))[:BODY_TEXT_LIMIT]


@event_type("cms.page.published.v1")
@dataclass(frozen=True)
class PagePublished(Event):
    page_id: int
    page_type: str  # e.g. "cms.policydocumentpage"
    title: str
    url: str
    locale: str
    first_published_at: str
    last_published_at: str
    # What search shows and filters by; optional in the schema, always sent since the indexer came.
    version: int = 0
    kind: str = "page"  # policy | news | announcement | page
    summary: str = ""
    body_text: str = ""
    topic: str = ""
    issuing_body: str = ""
    validity: str = ""
    date: str = ""  # YYYY-MM-DD: 发布日期 for policies, the article's date for news and announcements

    @classmethod
    def from_page(cls, page: Page, *, version: int, now: datetime | None = None) -> PagePublished:
        specific = page.specific
        now = now or timezone.now()
        # Wagtail's scheduled publishing sends the signal before stamping these on the instance.
        first_published_at = page.first_published_at or now
        last_published_at = page.last_published_at or now
        date = getattr(specific, "publish_date", None) or getattr(specific, "date", None) or last_published_at.date()
        return cls(
            page_id=page.pk,
            page_type=page_type(page),
            title=page.title,
            url=page.get_url() or "",
            locale=page.locale.language_code,
            first_published_at=first_published_at.isoformat(),
            last_published_at=last_published_at.isoformat(),
            version=version,
            kind=PAGE_KINDS.get(page_type(page), "page"),
            summary=getattr(specific, "summary", "") or getattr(specific, "intro", "") or page.search_description,
            body_text=_plain_text(specific),
            topic=getattr(specific, "topic", ""),
            issuing_body=getattr(specific, "issuing_body", ""),
            validity=getattr(specific, "validity", ""),
            date=date.isoformat(),
        )


@event_type("cms.page.unpublished.v1")
@dataclass(frozen=True)
class PageUnpublished(Event):
    page_id: int
    page_type: str
    url: str
    version: int = 0
    locale: str = ""

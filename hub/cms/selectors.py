"""Reads for portal pages, feeds and the home page, in the active language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail.models import Locale

from hub.cms.models import AnnouncementPage, NewsArticlePage, PolicyDocumentPage, PolicyLibraryPage
from hub.i18n import path_for_reader
from hub.search.selectors import recent_documents

# The public may sort the policy library by these, and by nothing else.
POLICY_SORTS = {"newest": ("-publish_date", "-id"), "oldest": ("publish_date", "id"), "title": ("title", "id")}
TOPIC_SEPARATOR = "、"


def policy_documents(
    *,
    library: PolicyLibraryPage | None = None,
    topic: str = "",
    issuing_body: str = "",
    year: int | None = None,
    validity: str = "",
    sort: str = "newest",
) -> QuerySet[PolicyDocumentPage]:
    """Live, public policy documents matching the filters; one topic matches a document filed under several.

    Without a library: those in the active language.
    """
    documents = PolicyDocumentPage.objects.live().public()
    documents = documents.child_of(library) if library is not None else documents.filter(locale=Locale.get_active())
    if topic:
        documents = documents.filter(topic__contains=topic)
    if issuing_body:
        documents = documents.filter(issuing_body=issuing_body)
    if year:
        documents = documents.filter(publish_date__year=year)
    if validity:
        documents = documents.filter(validity=validity)
    return documents.select_related("replaced_by").order_by(*POLICY_SORTS.get(sort, POLICY_SORTS["newest"]))


def policy_facets(*, library: PolicyLibraryPage) -> dict[str, list]:
    """The values present in a library, for its filter form."""
    documents = PolicyDocumentPage.objects.live().public().child_of(library)
    topics = sorted({t for value in documents.values_list("topic", flat=True) for t in value.split(TOPIC_SEPARATOR)})
    bodies = sorted(set(documents.values_list("issuing_body", flat=True)))
    years = sorted({d.year for d in documents.values_list("publish_date", flat=True)}, reverse=True)
    return {"topics": topics, "issuing_bodies": bodies, "years": years}


def latest_news(*, limit: int = 10) -> QuerySet[NewsArticlePage]:
    return NewsArticlePage.objects.live().public().filter(locale=Locale.get_active()).order_by("-date", "-id")[:limit]


def latest_policies(*, limit: int = 10) -> QuerySet[PolicyDocumentPage]:
    return (
        PolicyDocumentPage.objects.live()
        .public()
        .filter(locale=Locale.get_active())
        .order_by("-publish_date", "-id")[:limit]
    )


def latest_announcements(*, limit: int = 10) -> QuerySet[AnnouncementPage]:
    return AnnouncementPage.objects.live().public().filter(locale=Locale.get_active()).order_by("-date", "-id")[:limit]


@dataclass(frozen=True)
class Highlight:
    """One home-page section of what another context publishes."""

    kind: str
    heading: str | Promise
    empty: str | Promise
    more_url: str
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class HomeSection:
    """Which documents of another context's kind a home-page section shows: those matching `filters`
    and, where `open_until` names a date field, only those whose date is still ahead."""

    kind: str
    heading: str | Promise
    empty: str | Promise
    more_url: str
    filters: dict[str, str | list[str]] = field(default_factory=dict)
    open_until: str | None = None


# Other contexts' items come from the search read model, fed by their events: the portal never
# imports their models.
HOME_SECTIONS = [
    HomeSection(
        "competitions",
        _("Featured competitions"),
        _("No competition is open yet."),
        "/competitions/",
        filters={"competition_status": ["published", "running"]},
    ),
    HomeSection("calls", _("Open fund calls"), _("No fund call is open yet."), "/funds/", open_until="closes_at"),
    HomeSection(
        "scenarios",
        _("Open scenario calls"),
        _("No scenario call is open yet."),
        "/scenarios/",
        filters={"status": "open"},
    ),
]


def _in_reader_language(document: dict[str, Any]) -> dict[str, Any]:
    english = get_language() == "en"
    return {
        **document,
        "title": (english and document.get("title_en")) or document["title"],
        "url": path_for_reader(document["url"]),
    }


def home_highlights(*, limit: int = 4) -> list[Highlight]:
    """The newest open items of each other context, titled and linked in the reader's language."""
    return [
        Highlight(
            kind=section.kind,
            heading=section.heading,
            empty=section.empty,
            more_url=path_for_reader(section.more_url),
            items=[
                _in_reader_language(doc)
                for doc in recent_documents(
                    kind=section.kind, filters=section.filters, open_until=section.open_until, limit=limit
                )
            ],
        )
        for section in HOME_SECTIONS
    ]

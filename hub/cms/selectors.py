"""Reads for portal pages, feeds and the home page, in the active language."""

from __future__ import annotations

from django.db.models import QuerySet
from wagtail.models import Locale

from hub.cms.models import AnnouncementPage, NewsArticlePage, PolicyDocumentPage, PolicyLibraryPage

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

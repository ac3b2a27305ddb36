"""Events the CMS publishes (topic `cms`): the indexer and webhooks follow what the public can read."""

from dataclasses import dataclass

from hub.events.registry import Event, event_type


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


@event_type("cms.page.unpublished.v1")
@dataclass(frozen=True)
class PageUnpublished(Event):
    page_id: int
    page_type: str
    url: str

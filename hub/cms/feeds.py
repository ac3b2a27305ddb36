"""RSS 2.0 and Atom feeds of news and policy documents."""

from __future__ import annotations

from datetime import date, datetime, time

from django.contrib.syndication.views import Feed
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext_lazy as _

from hub.cms import selectors
from hub.cms.models import NewsArticlePage, PolicyDocumentPage

FEED_SIZE = 30


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class NewsFeed(Feed):
    title = _("Wanzhi news")
    link = "/"
    description = _("News of the provincial general-AI programme")

    def items(self) -> list[NewsArticlePage]:
        return list(selectors.latest_news(limit=FEED_SIZE))

    def item_title(self, item: NewsArticlePage) -> str:
        return item.title

    def item_description(self, item: NewsArticlePage) -> str:
        return item.summary

    def item_link(self, item: NewsArticlePage) -> str:
        return item.full_url or item.url or "/"

    def item_pubdate(self, item: NewsArticlePage) -> datetime:
        return _midnight(item.date)


class NewsAtomFeed(NewsFeed):
    feed_type = Atom1Feed
    subtitle = NewsFeed.description


class PolicyFeed(Feed):
    title = _("Wanzhi policy documents")
    link = "/"
    description = _("Policy documents published on Wanzhi")

    def items(self) -> list[PolicyDocumentPage]:
        return list(selectors.latest_policies(limit=FEED_SIZE))

    def item_title(self, item: PolicyDocumentPage) -> str:
        return item.title

    def item_description(self, item: PolicyDocumentPage) -> str:
        return f"{item.issuing_body} · {item.get_validity_display()} · {item.summary}".rstrip(" ·")

    def item_link(self, item: PolicyDocumentPage) -> str:
        return item.full_url or item.url or "/"

    def item_pubdate(self, item: PolicyDocumentPage) -> datetime:
        return _midnight(item.publish_date)

    def item_categories(self, item: PolicyDocumentPage) -> list[str]:
        return [item.category, *item.topic.split(selectors.TOPIC_SEPARATOR)]


class PolicyAtomFeed(PolicyFeed):
    feed_type = Atom1Feed
    subtitle = PolicyFeed.description

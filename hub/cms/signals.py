"""Wagtail's publish signals → CMS events in the outbox.

Wagtail does not wrap publishing in a transaction of its own, so the event joins the caller's
transaction where there is one (admin views, the importer) or gets a short one of its own; the
indexer's reconciliation repairs the rare page whose event was lost between the two.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from wagtail.models import Page
from wagtail.signals import page_published, page_slug_changed, page_unpublished, post_page_move

from hub.cms.cache import invalidate_pages, invalidate_pages_on_commit
from hub.cms.events import PagePublished, PageUnpublished, next_page_version, page_type
from hub.cms.selectors import HOME_SECTIONS
from hub.events.publish import publish
from hub.search.services import documents_changed


def on_page_published(sender: Any, instance: Page, **kwargs: Any) -> None:
    with transaction.atomic():
        invalidate_pages_on_commit()
        publish(
            PagePublished.from_page(instance, version=next_page_version()),
            key=instance.pk,
            subject=f"page/{instance.pk}",
        )


def on_page_unpublished(sender: Any, instance: Page, **kwargs: Any) -> None:
    with transaction.atomic():
        invalidate_pages_on_commit()
        publish(
            PageUnpublished(
                page_id=instance.pk,
                page_type=page_type(instance),
                url=instance.get_url() or "",
                version=next_page_version(),
                locale=instance.locale.language_code,
            ),
            key=instance.pk,
            subject=f"page/{instance.pk}",
        )


def on_page_moved_or_deleted(sender: Any, **kwargs: Any) -> None:
    invalidate_pages_on_commit()


def on_documents_changed(sender: Any, kinds: set[str], **kwargs: Any) -> None:
    """The home page shows other contexts' items from the search read model: a change there is a publish."""
    if kinds & {section.kind for section in HOME_SECTIONS}:
        invalidate_pages()


def connect() -> None:
    page_published.connect(on_page_published, dispatch_uid="cms-page-published-event")
    page_unpublished.connect(on_page_unpublished, dispatch_uid="cms-page-unpublished-event")
    page_slug_changed.connect(on_page_moved_or_deleted, dispatch_uid="cms-page-slug-changed-cache")
    post_page_move.connect(on_page_moved_or_deleted, dispatch_uid="cms-page-moved-cache")
    post_delete.connect(on_page_moved_or_deleted, sender=Page, dispatch_uid="cms-page-deleted-cache")
    documents_changed.connect(on_documents_changed, dispatch_uid="cms-home-read-model-cache")

"""Which events the indexer follows, and the document (or tombstone) each one becomes.

A new kind of document is one `register` in hub/search/indices.py plus one `@maps` function here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from hub.events.envelope import Envelope
from hub.events.registry import UnknownEventType, event_class
from hub.search.indices import CALLS, COMPETITIONS, ORGANISATIONS, PAGES, SCENARIOS
from hub.search.models import SearchDocument
from hub.search.services import DocumentChange

log = logging.getLogger(__name__)

Mapper = Callable[[Any, Envelope], list[DocumentChange]]
_mappers: dict[str, Mapper] = {}


def maps(*type_names: str) -> Callable[[Mapper], Mapper]:
    def register(fn: Mapper) -> Mapper:
        for name in type_names:
            _mappers[name] = fn
        return fn

    return register


def active_mappers() -> dict[str, Mapper]:
    """The mappings whose event type is registered in this process.

    A context whose events module has not landed yet is left out (logged), not a crash at start:
    its events are then ignored until the indexer restarts with it.
    """
    active = {}
    for name, fn in _mappers.items():
        try:
            event_class(name)
        except UnknownEventType:
            log.warning("indexer: event type not registered, skipped", extra={"type": name})
            continue
        active[name] = fn
    return active


@maps("scenarios.scenario.published.v1", "scenarios.scenario.updated.v1")
def scenario_document(event: Any, envelope: Envelope) -> list[DocumentChange]:
    budget = event.budget_max if event.budget_max is not None else event.budget_min
    source = SCENARIOS.document(
        title=event.title,
        title_en=event.title_en,
        body=event.description,
        body_en=event.description_en,
        url=event.url,
        date=event.published_at,
        sector=event.sector,
        city=event.city,
        status=event.status,
        budget_min=event.budget_min,
        budget_max=event.budget_max,
        budget=budget,
        deadline=event.deadline,
        organisation_id=event.organisation_id,
        organisation_name=event.organisation_name,
        data_available=event.data_available,
        published_at=event.published_at,
        updated_at=event.updated_at,
    )
    return [DocumentChange(SCENARIOS.name, str(event.scenario_id), event.version, source)]


@maps("scenarios.scenario.withdrawn.v1")
def scenario_withdrawn(event: Any, envelope: Envelope) -> list[DocumentChange]:
    return [DocumentChange(SCENARIOS.name, str(event.scenario_id), event.version, None)]


@maps("cms.page.published.v1")
def page_document(event: Any, envelope: Envelope) -> list[DocumentChange]:
    # One document per page and locale (a translation is its own page in Wagtail, with its own id);
    # an English page's text goes to the English fields, where it is stemmed.
    suffix = "_en" if event.locale.startswith("en") else ""
    source = PAGES.document(
        **{f"title{suffix}": event.title, f"summary{suffix}": event.summary, f"body{suffix}": event.body_text},
        url=event.url,
        date=event.date or event.last_published_at,
        page_id=event.page_id,
        page_type=event.page_type,
        locale=event.locale,
        page_kind=event.kind,
        topic=event.topic,
        issuing_body=event.issuing_body,
        validity=event.validity,
    )
    # Events from before pages carried a version have 0: they only create a document never seen.
    return [DocumentChange(PAGES.name, f"{event.page_id}:{event.locale}", event.version, source)]


@maps("cms.page.unpublished.v1")
def page_withdrawn(event: Any, envelope: Envelope) -> list[DocumentChange]:
    if event.locale:
        doc_ids = [f"{event.page_id}:{event.locale}"]
    else:  # an event from before unpublishing named the locale: every document of the page
        doc_ids = list(
            SearchDocument.objects.filter(kind=PAGES.name, doc_id__startswith=f"{event.page_id}:").values_list(
                "doc_id", flat=True
            )
        )
    return [DocumentChange(PAGES.name, doc_id, event.version, None) for doc_id in doc_ids]


@maps("competitions.competition.published.v1", "competitions.competition.updated.v1")
def competition_document(event: Any, envelope: Envelope) -> list[DocumentChange]:
    source = COMPETITIONS.document(
        title=event.title,
        title_en=event.title_en,
        body=event.description,
        body_en=event.description_en,
        url=event.url,
        date=event.published_at,
        competition_status=event.status,
        organisation_id=event.host_organisation_id,
        organisation_name=event.host_organisation_name,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        published_at=event.published_at,
    )
    return [DocumentChange(COMPETITIONS.name, str(event.competition_id), event.version, source)]


@maps("funds.call.published.v1")
def call_document(event: Any, envelope: Envelope) -> list[DocumentChange]:
    source = CALLS.document(
        title=event.title,
        title_en=event.title_en,
        body=event.description,
        body_en=event.description_en,
        url=event.url,
        date=event.published_at,
        fund_kind=event.fund_kind,
        fund_id=event.fund_id,
        organisation_name=event.fund_name,
        opens_at=event.opens_at,
        closes_at=event.closes_at,
        published_at=event.published_at,
    )
    return [DocumentChange(CALLS.name, str(event.call_id), event.version, source)]


def organisation_path(organisation_id: int) -> str:
    """The profile page's path in the default language (readers localise it with hub.i18n.path_for_reader)."""
    with translation.override(settings.LANGUAGE_CODE):
        return reverse("accounts:organisation", args=[organisation_id])


@maps("accounts.organisation.created.v1")
def organisation_document(event: Any, envelope: Envelope) -> list[DocumentChange]:
    source = ORGANISATIONS.document(
        title=event.name,
        url=organisation_path(event.organisation_id),
        date=envelope.time or None,
        organisation_id=event.organisation_id,
        org_kind=event.kind,
        region=event.region,
    )
    # The first version of the profile (profile_version starts at 1): any update is newer.
    return [DocumentChange(ORGANISATIONS.name, str(event.organisation_id), 1, source)]


@maps("accounts.organisation.updated.v1")
def organisation_profile(event: Any, envelope: Envelope) -> list[DocumentChange]:
    source = ORGANISATIONS.document(
        title=event.name,
        title_en=event.name_en,
        # The description is also the hit's text, so site search finds an organisation by what it does.
        summary=event.description,
        summary_en=event.description_en,
        url=organisation_path(event.organisation_id),
        date=envelope.time or None,
        organisation_id=event.organisation_id,
        org_kind=event.kind,
        region=event.region,
        description=event.description,
        description_en=event.description_en,
        capabilities=event.capabilities,
        sectors=event.sectors,
    )
    return [DocumentChange(ORGANISATIONS.name, str(event.organisation_id), event.version, source)]

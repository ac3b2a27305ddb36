"""Builders for search tests: events of the real types, applied the way the indexer applies a batch."""

from __future__ import annotations

import datetime
import itertools
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from hub.accounts.events import OrganisationCreated
from hub.cms.events import PagePublished, PageUnpublished
from hub.events.envelope import Envelope
from hub.events.registry import Event, validate
from hub.scenarios.events import ScenarioPublished, ScenarioUpdated, ScenarioWithdrawn
from hub.search.indexing import documents_push
from hub.search.services import StoredDocument, documents_apply
from services.indexer.mapping import active_mappers

_ids = itertools.count(1)


def scenario(scenario_id: int | None = None, *, version: int = 1, updated: bool = False, **fields: Any) -> Event:
    """A scenario event (published, or updated with `updated`), valid against its schema."""
    scenario_id = scenario_id or next(_ids)
    today = timezone.localdate()
    data: dict[str, Any] = {
        "scenario_id": scenario_id,
        "version": version,
        "title": f"场景{scenario_id}",
        "title_en": f"Scenario {scenario_id}",
        "description": "面向制造企业的质量检测需求，提供产线图像数据。",
        "description_en": "Quality inspection for manufacturers, with production-line images.",
        "organisation_id": 1,
        "organisation_name": "合肥市智能制造研究院",
        "sector": "manufacturing-optimisation",
        "city": "合肥",
        "budget_min": 200_000,
        "budget_max": 500_000,
        "data_available": "产线图像十万张",
        "deadline": (today + datetime.timedelta(days=20)).isoformat(),
        "status": "open",
        "url": f"/scenarios/{scenario_id}/",
        "published_at": (timezone.now() - datetime.timedelta(days=scenario_id % 300)).isoformat(),
        "updated_at": timezone.now().isoformat(),
    }
    data.update(fields)
    cls = ScenarioUpdated if updated else ScenarioPublished
    validate(cls.type_name, data)
    return cls(**data)


def withdrawn(scenario_id: int, *, version: int) -> Event:
    return ScenarioWithdrawn(scenario_id=scenario_id, version=version, url=f"/scenarios/{scenario_id}/")


def page(page_id: int | None = None, *, version: int = 1, **fields: Any) -> Event:
    """A cms.page.published.v1 event with the fields the indexer reads."""
    page_id = page_id or next(_ids)
    now = timezone.now().isoformat()
    data: dict[str, Any] = {
        "page_id": page_id,
        "page_type": "cms.policydocumentpage",
        "title": f"政策文件{page_id}",
        "url": f"/policies/{page_id}/",
        "locale": "zh-hans",
        "first_published_at": now,
        "last_published_at": now,
        "version": version,
        "kind": "policy",
        "summary": "关于支持通用人工智能产业发展的若干政策。",
        "body_text": "第一条 为加快通用人工智能产业创新发展，制定本政策。",
        "topic": "科技",
        "issuing_body": "安徽省人民政府",
        "validity": "valid",
        "date": timezone.localdate().isoformat(),
    }
    data.update(fields)
    validate(PagePublished.type_name, data)
    return PagePublished(**data)


def page_unpublished(page_id: int, *, version: int, locale: str = "zh-hans") -> Event:
    return PageUnpublished(
        page_id=page_id, page_type="cms.policydocumentpage", url=f"/policies/{page_id}/", version=version, locale=locale
    )


def organisation(organisation_id: int | None = None, **fields: Any) -> Event:
    organisation_id = organisation_id or next(_ids)
    data = {"organisation_id": organisation_id, "name": f"合肥智能科技{organisation_id}有限公司", "kind": "startup"}
    data.update(fields)
    return OrganisationCreated(region=data.pop("region", "合肥市"), **data)


def envelope(event: Event) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source="urn:wanzhi/test",
        type=event.type_name,
        time=timezone.now().isoformat(),
        subject=None,
        data=event.to_data(),
    )


def apply(*events: Event, push: bool = True) -> list[StoredDocument]:
    """What the indexer does with a batch, without Kafka: map, one gated upsert, one bulk push (refreshed,
    so a search right after sees it). Returns the documents the read model took."""
    mappers = active_mappers()
    changes = [change for event in events for change in mappers[event.type_name](event, envelope(event))]
    with transaction.atomic():
        written = documents_apply(changes=changes)
    if push:
        documents_push(documents=written, refresh=True)
    return written

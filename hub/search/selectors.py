"""Reads of the search read model in PostgreSQL: home-page highlights, and search when Elasticsearch is down."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, DateTimeField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from hub.search.indices import SEARCH_FIELDS, Facet, facets, get_kind
from hub.search.models import SearchDocument


def recent_documents(
    *,
    kind: str,
    filters: Mapping[str, str | Sequence[str]] | None = None,
    open_until: str | None = None,
    limit: int = 4,
) -> list[dict[str, Any]]:
    """The newest live documents of `kind` (by their date), as indexed, each with its `doc_id`.

    `filters` match top-level fields of the document: a value exactly, a list any of its values, e.g.
    {"status": "open"} or {"competition_status": ["published", "running"]}; `open_until` names a
    date-time field that must still lie ahead (a call's `closes_at`). Reads the read model, not
    Elasticsearch, so the home page never waits on (or fails with) the search cluster.
    """
    get_kind(kind)  # UnknownKind for a typo, rather than an empty list
    rows = SearchDocument.objects.filter(kind=kind, deleted=False)
    for key, value in (filters or {}).items():
        lookup = f"source__{key}" if isinstance(value, str) else f"source__{key}__in"
        rows = rows.filter(**{lookup: value})
    if open_until is not None:
        # Compared as timestamps, not as text: offsets in the ISO strings may differ.
        rows = rows.annotate(_until=Cast(KT(f"source__{open_until}"), DateTimeField())).filter(
            _until__gt=timezone.now()
        )
    newest = rows.order_by(KT("source__date").desc(nulls_last=True), "-id").values_list("doc_id", "source")[:limit]
    return [{**source, "doc_id": doc_id} for doc_id, source in newest]


@dataclass
class FallbackResults:
    total: int = 0
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (doc_id, source), newest first
    counts: dict[str, int] = field(default_factory=dict)  # per kind
    facet_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # terms facets only


def _text_match(query: str) -> Q:
    match = Q()
    for name in SEARCH_FIELDS:
        match |= Q(**{f"source__{name}__icontains": query})
    return match


def _facet_match(facet: Facet, values: list[str]) -> Q:
    if not facet.buckets:
        return Q(**{f"source__{facet.source_key}__in": values})
    match = Q()
    for bucket in facet.buckets:
        if bucket.key in values:
            gte, lt = facet.bounds(bucket)
            bounds = Q(**{f"source__{facet.source_key}__isnull": False})
            if gte is not None:
                bounds &= Q(**{f"source__{facet.source_key}__gte": gte})
            if lt is not None:
                bounds &= Q(**{f"source__{facet.source_key}__lt": lt})
            match |= bounds
    return match


def fallback_search(
    *, query: str, kind: str | None, filters: dict[str, list[str]], offset: int, size: int
) -> FallbackResults:
    """Search the read model: substring match on titles and text, the same filters, newest first.

    What search answers with when Elasticsearch cannot: no ranking, highlighting or typo tolerance,
    and only terms facets are counted.
    """
    known = facets()
    live: QuerySet[SearchDocument] = SearchDocument.objects.filter(deleted=False)
    if query:
        live = live.filter(_text_match(query))
    chosen = {name: _facet_match(known[name][0], values) for name, values in filters.items() if values}
    everything = Q()
    for match in chosen.values():
        everything &= match
    found = FallbackResults()
    found.counts = dict(live.filter(everything).values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    in_tab = live.filter(everything, **({"kind": kind} if kind else {}))
    found.total = in_tab.count()
    page = in_tab.order_by(KT("source__date").desc(nulls_last=True), "-id").values_list("doc_id", "source")
    found.rows = list(page[offset : offset + size])
    for name, (facet, owner) in known.items():
        if facet.buckets or (kind and owner.name != kind):
            continue
        others = Q()
        for other, match in chosen.items():
            if other != name:
                others &= match
        values = (
            live.filter(others, kind=owner.name)
            .annotate(value=KT(f"source__{facet.source_key}"))
            .exclude(value__isnull=True)
            .values("value")
            .annotate(n=Count("id"))
            .order_by("-n", "value")[: facet.size]
        )
        found.facet_counts[name] = {row["value"]: row["n"] for row in values}
    return found


def fallback_titles(*, prefix: str, kind: str | None, limit: int) -> list[dict[str, Any]]:
    """Live documents whose title starts with `prefix` (autocomplete without Elasticsearch)."""
    rows = SearchDocument.objects.filter(deleted=False).filter(
        Q(source__title__istartswith=prefix) | Q(source__title_en__istartswith=prefix)
    )
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows.order_by(KT("source__date").desc(nulls_last=True)).values_list("source", flat=True)[:limit])

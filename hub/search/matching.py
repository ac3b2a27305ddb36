"""Matching on the search indices: the startups whose profile fits a scenario, and the open scenarios that fit one.

Both directions are one scored bool query of `should` clauses (text against text, tags against text,
sectors against sectors) with `minimum_should_match`, so a candidate with nothing in common is left
out rather than ranked last. Words every profile and scenario of the programme uses (人工智能, 智能,
平台, solution …) say nothing about fit: they are taken out of the query text first. The candidates
are a `Pool` (a kind of document and the filter that picks candidates from it): talent profiles, once
they are indexed with the same profile fields, are one more pool.

Pages ask and render whatever comes back: if Elasticsearch cannot answer, matching logs a warning and
returns [] (or raises MatchingUnavailable for callers that would rather retry, like the Celery task).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from hub.search.client import SearchUnavailable, client
from hub.search.indices import CONTROL_CHARS, ORGANISATIONS, SCENARIOS, DocumentKind
from hub.search.models import SearchDocument

log = logging.getLogger(__name__)

TIMEOUT_S = 3.0  # a page waits this long, then shows no suggestions
MAX_TEXT = 2000  # characters of text a query is made of (a long description says enough in its first part)
MAX_LIMIT = 50
# Generic words (Chinese and English) that fit everything: removed from query text before matching.
GENERIC_TERMS = (
    "人工智能",
    "智能化",
    "智能",
    "智慧",
    "解决方案",
    "方案",
    "技术",
    "系统",
    "平台",
    "服务",
    "提供",
    "应用",
    "场景",
    "需求",
    "数据",
    "基于",
    "利用",
    "实现",
    "能力",
    "企业",
    "有限公司",
    "公司",
    "科技",
    "产品",
    "项目",
)
GENERIC_WORDS = (
    "ai",
    "artificial intelligence",
    "intelligent",
    "intelligence",
    "smart",
    "solutions?",
    "platforms?",
    "systems?",
    "services?",
    "technology",
    "technologies",
    "data",
    "based",
    "provides?",
    "applications?",
    "company",
)
_GENERIC = re.compile(
    # Latin words whole (not "ai" in "rain"), also right beside Chinese text ("AI医疗").
    "|".join([*map(re.escape, GENERIC_TERMS), *(rf"(?<![a-z]){word}(?![a-z])" for word in GENERIC_WORDS)]),
    re.IGNORECASE,
)

# How much of a text must be shared for the text alone to make a match. With cjk_bigram analysis
# a query's terms are its two-character pairs (and its Latin words). In Elasticsearch's notation
# "2<2 4<50%" reads: up to two terms, all of them; three or four, two; more, half. A long text needs
# a share of its terms, never fewer than three: one common pair or word is not a fit.
TITLE_SHARE = "2<2 4<50%"
TEXT_SHARE = "3<3 20<15%"
TAG_IN_TEXT = "2"  # a profile's tag in a scenario's text: two of its pairs (a two-character tag is one)
TAG_SHARE = "2<75%"  # one tag of a profile found in a scenario's title or text


class MatchingUnavailable(Exception):
    """Elasticsearch could not answer a matching query."""


@dataclass(frozen=True)
class Match:
    """One suggestion: the document's id in its kind (an organisation's or a scenario's id), its title
    (and English title), its path in the default language, and the relevance score (higher fits better;
    comparable within one answer only)."""

    doc_id: str
    title: str
    url: str
    score: float
    title_en: str = ""


@dataclass(frozen=True)
class Pool:
    """Where candidates come from: a kind whose documents carry the profile fields (description,
    description_en, capabilities, sectors), and the filter that picks candidates from it."""

    kind: DocumentKind
    filters: tuple[dict[str, Any], ...]
    id_field: str  # the field holding the candidate's id, to leave some out


STARTUPS = Pool(kind=ORGANISATIONS, filters=({"term": {"org_kind": "startup"}},), id_field="organisation_id")


def strip_generic(text: str) -> str:
    """`text` without control characters and the words that fit everything, cut to MAX_TEXT characters.

    A removed word leaves a space, so the characters around it do not pair into a new term.
    """
    return " ".join(_GENERIC.sub(" ", CONTROL_CHARS.sub(" ", text[:MAX_TEXT])).split())


def startups_for(
    *,
    title: str,
    text: str,
    sector: str,
    capabilities: Sequence[str] = (),
    limit: int = 5,
    exclude: Iterable[int] = (),
    fail_silently: bool = True,
) -> list[Match]:
    """The startups whose profile fits a scenario, best first (at most `limit`).

    A startup fits through any of: the scenario's title or text sharing enough with its description or
    capability tags, its tags appearing in the scenario's text, its sectors including the scenario's
    `sector`, or its tags being among `capabilities` (tags the caller asks for by name). `exclude`
    leaves organisations out by id (the scenario's own publisher). Unavailable search: [] and a
    warning, or MatchingUnavailable without `fail_silently`.
    """
    return candidates_for(
        STARTUPS,
        title=title,
        text=text,
        sector=sector,
        capabilities=capabilities,
        limit=limit,
        exclude=exclude,
        fail_silently=fail_silently,
    )


def candidates_for(
    pool: Pool,
    *,
    title: str,
    text: str,
    sector: str,
    capabilities: Sequence[str] = (),
    limit: int = 5,
    exclude: Iterable[int] = (),
    fail_silently: bool = True,
) -> list[Match]:
    """startups_for for any pool of profiles (see there)."""
    # English text is matched on the `.en` subfields: stop words out, words stemmed.
    profile_text = ["capabilities^3", "description", "description_en.en"]
    should: list[dict[str, Any]] = []
    title, text = strip_generic(title), strip_generic(text)
    if title:
        should.append(_multi_match(title, profile_text, TITLE_SHARE, boost=2.0))
    if text:
        should.append(_multi_match(text, ["capabilities"], TAG_IN_TEXT, boost=1.5))
        should.append(_multi_match(text, ["description", "description_en.en"], TEXT_SHARE))
    if sector:
        should.append({"terms": {"sectors": [sector], "boost": 2.0}})
    tags = [tag.strip() for tag in capabilities if tag.strip()]
    if tags:
        should.append({"terms": {"capabilities.keyword": tags, "boost": 3.0}})
    if not should:
        return []
    excluded = [{"terms": {pool.id_field: sorted(set(exclude))}}] if exclude else []
    query = _fit_query(should, filters=list(pool.filters), must_not=excluded)
    return _search(pool.kind, query, limit=limit, fail_silently=fail_silently)


def scenarios_for(*, organisation_id: int, limit: int = 5, fail_silently: bool = True) -> list[Match]:
    """The open scenarios (deadline not passed) that fit an organisation's indexed profile, best first.

    The profile is the organisation's document as the search read model holds it (what the indexer
    wrote); an organisation not indexed, or with an empty profile, gets []. A scenario fits through its
    title or text containing one of the tags, sharing enough with the description, or its sector
    being one of the profile's. The organisation's own scenarios are left out.
    """
    source = (
        SearchDocument.objects.filter(kind=ORGANISATIONS.name, doc_id=str(organisation_id), deleted=False)
        .values_list("source", flat=True)
        .first()
    )
    if not source:
        return []
    scenario_text = ["title^2", "title_en.en^2", "body", "body_en.en"]
    should: list[dict[str, Any]] = []
    tags = [tag for tag in (strip_generic(tag) for tag in source.get("capabilities") or []) if tag]
    if tags:
        # One clause per tag: each tag found counts, rather than one long query diluted by many tags.
        tag_clauses = [_multi_match(tag, scenario_text, TAG_SHARE) for tag in tags]
        should.append({"bool": {"should": tag_clauses, "minimum_should_match": 1, "boost": 1.5}})
    for field in ("description", "description_en"):
        description = strip_generic(source.get(field) or "")
        if description:
            should.append(_multi_match(description, scenario_text, TEXT_SHARE))
    sectors = source.get("sectors") or []
    if sectors:
        should.append({"terms": {"sector": sectors, "boost": 2.0}})
    if not should:
        return []
    filters: list[dict[str, Any]] = [
        {"term": {"status": "open"}},
        {"range": {"deadline": {"gte": timezone.localdate().isoformat()}}},
    ]
    query = _fit_query(should, filters=filters, must_not=[{"term": {"organisation_id": organisation_id}}])
    return _search(SCENARIOS, query, limit=limit, fail_silently=fail_silently)


def _multi_match(query: str, fields: list[str], share: str, *, boost: float = 1.0) -> dict[str, Any]:
    return {
        "multi_match": {
            "query": query,
            "fields": fields,
            "type": "best_fields",
            "minimum_should_match": share,
            "boost": boost,
        }
    }


def _fit_query(
    should: list[dict[str, Any]], *, filters: list[dict[str, Any]], must_not: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "bool": {
            "filter": filters,
            "must_not": [{"term": {"deleted": True}}, *must_not],
            "should": should,
            "minimum_should_match": 1,  # something in common, or not a match
        }
    }


def _search(kind: DocumentKind, query: dict[str, Any], *, limit: int, fail_silently: bool) -> list[Match]:
    size = max(1, min(limit, MAX_LIMIT))
    try:
        response = client(timeout=TIMEOUT_S, retries=0).search(
            index=kind.alias,
            query=query,
            size=size,
            source_includes=["title", "title_en", "url"],
            track_total_hits=False,
        )
    except SearchUnavailable as exc:
        if not fail_silently:
            raise MatchingUnavailable(str(exc)[:300]) from exc
        log.warning("matching: Elasticsearch unavailable; no suggestions", extra={"error": str(exc)[:300]})
        return []
    return [
        Match(
            doc_id=hit["_id"],
            title=hit["_source"].get("title", ""),
            url=hit["_source"].get("url", ""),
            score=float(hit["_score"] or 0.0),
            title_en=hit["_source"].get("title_en", ""),
        )
        for hit in response["hits"]["hits"]
    ]

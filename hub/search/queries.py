"""Searching every kind at once (one request for hits, tab counts, facets and highlights; a second for
"did you mean" when few hits), autocomplete, and the database fallback when Elasticsearch cannot answer."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from hub.search import selectors
from hub.search.client import SearchUnavailable, client
from hub.search.indices import SEARCH_FIELDS, DocumentKind, Facet, UnknownKind, facets, get_kind, kinds

log = logging.getLogger(__name__)

SORTS = ("relevance", "date")
MAX_QUERY_LENGTH = 200
MAX_PREFIX_LENGTH = 50
MAX_SIZE = 50
MAX_RESULTS = 10_000  # deepest result a reader can page to (Elasticsearch's max_result_window)
MAX_FILTER_VALUES = 20
FEW_HITS = 3  # below this many hits a "did you mean" is offered
SNIPPET_CHARS = 160
# Highlight markers: control characters, which indexed text never contains (DocumentKind.document drops
# them), so the whole fragment can be escaped first and the markers turned into <mark> after.
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"
TIMEOUT_S = 10.0  # a page waits this long for Elasticsearch, then answers from the database
# What a hit carries besides its text: shown under the title, and in the API.
HIT_FIELDS = (
    "sector",
    "city",
    "status",
    "budget_min",
    "budget_max",
    "deadline",
    "organisation_name",
    "page_kind",
    "topic",
    "issuing_body",
    "validity",
    "org_kind",
    "region",
)
_SPACES = re.compile(r"\s+")


class InvalidSearch(ValueError):
    """A parameter that cannot be used as given; `field` names it (the API answers 400 with both)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Hit:
    kind: str
    id: str
    title: str
    title_html: SafeString  # the title escaped, matches wrapped in <mark>
    title_en_html: SafeString  # the English title, likewise ("" when there is none besides the title)
    snippet_html: SafeString  # a fragment of the text, likewise
    url: str
    date: str | None
    fields: dict[str, Any]


@dataclass
class FacetBucket:
    value: str
    label: str
    count: int | None  # None: not counted (the database fallback counts terms only)
    selected: bool


@dataclass
class FacetResult:
    name: str
    label: str
    kind: str
    kind_label: str
    buckets: list[FacetBucket]


@dataclass
class SearchResults:
    query: str
    kind: str | None
    filters: dict[str, list[str]]
    sort: str
    page: int
    size: int
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # per kind, for the tabs
    facets: list[FacetResult] = field(default_factory=list)
    did_you_mean: str | None = None
    notices: list[str] = field(default_factory=list)
    degraded: bool = False  # Elasticsearch did not answer: these came from the database, unranked

    @property
    def pages(self) -> int:
        return max(1, math.ceil(min(self.total, MAX_RESULTS) / self.size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def browse(self) -> bool:
        return not self.query


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str
    url: str


# --- input --------------------------------------------------------------------------------------


def clean_text(raw: str) -> str:
    """Control and format characters become spaces; runs of space become one."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in raw)
    return _SPACES.sub(" ", text).strip()


def clean_query(raw: str) -> tuple[str, list[str]]:
    """The query as searched, and notices for the reader: too long is cut, never refused."""
    text = clean_text(raw[: MAX_QUERY_LENGTH * 4])  # bound the work on a huge input first
    if len(text) > MAX_QUERY_LENGTH:
        text = text[:MAX_QUERY_LENGTH].rstrip()
        return text, [
            _("Your search was longer than %(limit)d characters; only the first %(limit)d were used.")
            % {"limit": MAX_QUERY_LENGTH}
        ]
    return text, []


def check_kind(kind: str | None) -> None:
    if kind is not None:
        try:
            get_kind(kind)
        except UnknownKind:
            raise InvalidSearch("kind", f"unknown kind {kind!r}; one of {', '.join(k.name for k in kinds())}") from None


def check_filter(name: str, values: list[str], *, kind: str | None) -> None:
    known = facets()
    if name not in known:
        raise InvalidSearch(name, f"unknown filter; filters are {', '.join(sorted(known))}")
    facet, owner = known[name]
    if kind is not None and owner.name != kind:
        raise InvalidSearch(name, f"filters {owner.name}, not {kind}")
    if len(values) > MAX_FILTER_VALUES:
        raise InvalidSearch(name, f"at most {MAX_FILTER_VALUES} values")
    for value in values:
        if len(value) > MAX_QUERY_LENGTH or not facet.accepts(value):
            raise InvalidSearch(name, f"unknown value {value[:50]!r}")


def check_sort(sort: str) -> None:
    if sort not in SORTS:
        raise InvalidSearch("sort", f"one of {', '.join(SORTS)}")


def check_size(size: int) -> None:
    if not 1 <= size <= MAX_SIZE:
        raise InvalidSearch("size", f"a whole number from 1 to {MAX_SIZE}")


def check_page(page: int, *, size: int) -> None:
    if page < 1:
        raise InvalidSearch("page", "a whole number from 1")
    if (page - 1) * size >= MAX_RESULTS:
        raise InvalidSearch("page", f"only the first {MAX_RESULTS:,} results can be paged to")


def check(*, kind: str | None, filters: dict[str, list[str]], sort: str, page: int, size: int) -> None:
    """Raise InvalidSearch naming the first parameter that cannot be used."""
    check_kind(kind)
    for name, values in filters.items():
        check_filter(name, values, kind=kind)
    check_sort(sort)
    check_size(size)
    check_page(page, size=size)


# --- the Elasticsearch request ------------------------------------------------------------------


def text_query(query: str) -> dict[str, Any]:
    """Match query text; no syntax is parsed, so no input can make it fail.

    Three ways to match, any suffices, each reading each text once:
    - the titles, with fuzziness AUTO: a typo or two in an English word is forgiven (Chinese bigrams
      are two characters, which AUTO never fuzzes). Titles are boosted: a title match ranks first;
    - the Chinese text (summary, body) as bigrams;
    - the English text through its stemmed `.en` subfields (plurals and other forms of a word).
    Fuzziness stays on the titles: on long text it costs ~2.5 times the plain match on noida-db (which
    reads every document's text for every query) and brings little, and on stemmed fields a typo
    changes the stem ("resolutoin" stays, "resolution" becomes "resolut"), so it would not match there.
    A title that contains the whole query as a phrase ranks above one that has its words apart.
    """
    if not query:
        return {"match_all": {}}
    enough = "2<75%"  # up to two terms: all of them; more: three in four
    return {
        "bool": {
            "must": [
                {
                    "bool": {
                        "should": [
                            {
                                "multi_match": {
                                    "query": query,
                                    "fields": ["title^5", "title_en^5"],
                                    "fuzziness": "AUTO",
                                    "prefix_length": 1,
                                    "minimum_should_match": enough,
                                }
                            },
                            {
                                "multi_match": {
                                    "query": query,
                                    "fields": ["summary^2", "body"],
                                    "minimum_should_match": enough,
                                }
                            },
                            {
                                "multi_match": {
                                    "query": query,
                                    "fields": ["title_en.en^5", "summary_en.en^2", "body_en.en"],
                                    "minimum_should_match": enough,
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ],
            "should": [
                {"match_phrase": {"title": {"query": query, "boost": 10}}},
                {"match_phrase": {"title_en": {"query": query, "boost": 10}}},
            ],
        }
    }


def _scope(kind: str | None) -> list[DocumentKind]:
    return [get_kind(kind)] if kind else kinds()


def search_body(
    *, query: str, kind: str | None, filters: dict[str, list[str]], sort: str, page: int, size: int
) -> tuple[list[str], dict[str, Any]]:
    """The indices and the body of the request a search sends (the benchmark sends it raw too).

    The text query and tombstones decide what counts at all; the tab and the ticked facets go in the
    post_filter, so that each facet's counts (an aggregation filtered by every other choice) and the
    tabs' counts (every choice but the tab) come from the same request as the hits.
    """
    known = facets()
    facet_filters = {name: known[name][0].es_filter(values) for name, values in filters.items() if values}
    kind_filter = [{"term": {"doc_kind": kind}}] if kind else []
    aggregations: dict[str, Any] = {
        "kinds": {
            "filter": {"bool": {"filter": list(facet_filters.values())}},
            "aggs": {"values": {"terms": {"field": "doc_kind", "size": 50}}},
        }
    }
    for document_kind in _scope(kind):
        for facet in document_kind.facets:
            others = [clause for name, clause in facet_filters.items() if name != facet.name]
            aggregations[f"facet_{facet.name}"] = {
                "filter": {"bool": {"filter": [*kind_filter, *others]}},
                "aggs": {"values": facet.es_aggregation()},
            }
    by_date = sort == "date" or not query
    date_order = {"date": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}
    body: dict[str, Any] = {
        "query": {"bool": {"must": [text_query(query)], "must_not": [{"term": {"deleted": True}}]}},
        "post_filter": {"bool": {"filter": [*kind_filter, *facet_filters.values()]}},
        "aggs": aggregations,
        "sort": [date_order, "_score"] if by_date else ["_score", date_order],
        "from": (page - 1) * size,
        "size": size,
        "_source": ["doc_kind", "title", "title_en", "summary", "summary_en", "url", "date", *HIT_FIELDS],
        "highlight": {
            "pre_tags": [MARK_OPEN],
            "post_tags": [MARK_CLOSE],
            "fields": {
                "title": {"number_of_fragments": 0},
                "title_en": {"number_of_fragments": 0},
                **{
                    name: {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 1, "no_match_size": SNIPPET_CHARS}
                    for name in SEARCH_FIELDS
                    if name not in ("title", "title_en")
                },
            },
        },
        "track_total_hits": MAX_RESULTS,
    }
    return [document_kind.alias for document_kind in kinds()], body


def did_you_mean_body(query: str) -> dict[str, Any]:
    """The request for a spelling suggestion; sent only when a search finds few hits, since the phrase
    suggester costs about a tenth of a whole search on noida-db."""
    return {
        "size": 0,
        "suggest": {
            "text": query,
            **{
                f"did_you_mean_{name}": {
                    "phrase": {
                        "field": name,
                        "size": 1,
                        "max_errors": 2,  # terms that may be corrected (the default, 1, fixes one typo only)
                        "direct_generator": [{"field": name, "suggest_mode": "always"}],
                    }
                }
                for name in ("title", "title_en")
            },
        },
    }


def search(
    *, query: str, kind: str | None, filters: dict[str, list[str]], sort: str, page: int, size: int = 20
) -> SearchResults:
    """One page of results across kinds, with tab counts, facets, highlights and a "did you mean".

    Raises InvalidSearch for a parameter that cannot be used. An over-long query is cut (with a
    notice), an empty one browses everything, newest first. If Elasticsearch is unreachable or fails,
    the results come from the read model in PostgreSQL, unranked and unhighlighted, with `degraded` set.
    """
    query, notices = clean_query(query)
    filters = {name: list(dict.fromkeys(values)) for name, values in filters.items() if values}
    check(kind=kind, filters=filters, sort=sort, page=page, size=size)
    results = SearchResults(query=query, kind=kind, filters=filters, sort=sort, page=page, size=size, notices=notices)
    indices, body = search_body(query=query, kind=kind, filters=filters, sort=sort, page=page, size=size)
    es = client(timeout=TIMEOUT_S, retries=0)
    try:
        response = es.search(index=",".join(indices), ignore_unavailable=True, allow_no_indices=True, **body)
    except SearchUnavailable as exc:
        log.warning("search: Elasticsearch unavailable; answering from the database", extra={"error": str(exc)[:300]})
        return _fallback(results)
    _read_response(results, response.body)
    if results.query and results.total < FEW_HITS:
        try:
            suggested = es.search(
                index=",".join(indices), ignore_unavailable=True, allow_no_indices=True, **did_you_mean_body(query)
            )
            results.did_you_mean = _did_you_mean(results.query, suggested.body.get("suggest", {}))
        except SearchUnavailable:
            pass  # the results stand without a suggestion
    return results


def _read_response(results: SearchResults, response: dict[str, Any]) -> None:
    results.total = int(response["hits"]["total"]["value"])
    results.hits = [_hit(raw) for raw in response["hits"]["hits"]]
    aggregations = response.get("aggregations", {})
    results.counts = {k.name: 0 for k in kinds()}
    for bucket in aggregations.get("kinds", {}).get("values", {}).get("buckets", []):
        results.counts[bucket["key"]] = bucket["doc_count"]
    for document_kind in _scope(results.kind):
        for facet in document_kind.facets:
            raw = aggregations.get(f"facet_{facet.name}", {}).get("values", {}).get("buckets", [])
            counts = {str(bucket["key"]): int(bucket["doc_count"]) for bucket in raw}
            results.facets.append(_facet_result(facet, document_kind, counts, results.filters.get(facet.name, [])))


def _facet_result(
    facet: Facet, kind: DocumentKind, counts: Mapping[str, int | None], selected: list[str]
) -> FacetResult:
    if facet.buckets:
        values = [bucket.key for bucket in facet.buckets]
    else:
        values = list(counts)
    # A ticked value stays visible (to untick it) even when nothing matches it any more.
    values += [value for value in selected if value not in values]
    buckets = [
        FacetBucket(value, str(facet.label_of(value)), counts.get(value, 0 if counts else None), value in selected)
        for value in values
    ]
    return FacetResult(facet.name, str(facet.label), kind.name, str(kind.label), buckets)


def _did_you_mean(query: str, suggest: dict[str, Any]) -> str | None:
    best: tuple[float, str] | None = None
    for entries in suggest.values():
        for entry in entries:
            for option in entry.get("options", []):
                text = option["text"]
                if text.replace(" ", "") != query.replace(" ", "").lower() and (
                    best is None or option["score"] > best[0]
                ):
                    best = (option["score"], text)
    return best[1] if best else None


def marked(fragment: str) -> SafeString:
    """A highlight fragment escaped, then its markers made <mark> elements."""
    html = escape(fragment).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")
    return mark_safe(html)  # noqa: S308  (escaped just above; only our own tags are added)


def _hit(raw: dict[str, Any]) -> Hit:
    source = raw.get("_source", {})
    highlight = raw.get("highlight", {})
    title = source.get("title") or source.get("title_en") or ""
    title_html = marked(highlight["title"][0]) if "title" in highlight else escape(title)
    title_en = source.get("title_en", "") if source.get("title") else ""
    title_en_html = marked(highlight["title_en"][0]) if title_en and "title_en" in highlight else escape(title_en)
    snippet = ""
    # A fragment with a match beats the opening lines (no_match_size) of another field.
    fragments = [
        (name, highlight[name][0]) for name in ("summary", "summary_en", "body", "body_en") if name in highlight
    ]
    fragments.sort(key=lambda item: MARK_OPEN not in item[1])
    if fragments:
        snippet = fragments[0][1]
    return Hit(
        kind=source.get("doc_kind", ""),
        id=raw["_id"],
        title=title,
        title_html=title_html,
        title_en_html=title_en_html,
        snippet_html=marked(snippet) if snippet else escape(source.get("summary") or source.get("summary_en", "")),
        url=source.get("url", ""),
        date=source.get("date"),
        fields={name: source[name] for name in HIT_FIELDS if source.get(name) not in (None, "")},
    )


# --- when Elasticsearch cannot answer -----------------------------------------------------------


def _fallback(results: SearchResults) -> SearchResults:
    found = selectors.fallback_search(
        query=results.query,
        kind=results.kind,
        filters=results.filters,
        offset=(results.page - 1) * results.size,
        size=results.size,
    )
    results.degraded = True
    results.total = found.total
    results.counts = {k.name: found.counts.get(k.name, 0) for k in kinds()}
    results.hits = [
        Hit(
            kind=row["doc_kind"],
            id=doc_id,
            title=row.get("title") or row.get("title_en") or "",
            title_html=escape(row.get("title") or row.get("title_en") or ""),
            title_en_html=escape(row.get("title_en", "") if row.get("title") else ""),
            snippet_html=escape(_opening(row)),
            url=row.get("url", ""),
            date=row.get("date"),
            fields={name: row[name] for name in HIT_FIELDS if row.get(name) not in (None, "")},
        )
        for doc_id, row in found.rows
    ]
    for document_kind in _scope(results.kind):
        for facet in document_kind.facets:
            counts: dict[str, int | None] = dict(found.facet_counts.get(facet.name, {}))
            results.facets.append(_facet_result(facet, document_kind, counts, results.filters.get(facet.name, [])))
    return results


def _opening(row: dict[str, Any]) -> str:
    text = row.get("summary") or row.get("summary_en") or row.get("body") or row.get("body_en") or ""
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rstrip() + "…"


def suggest(*, prefix: str, kind: str | None = None, size: int = 8) -> list[Suggestion]:
    """Titles that complete `prefix` (autocomplete); from the database when Elasticsearch cannot answer."""
    prefix = clean_text(prefix[: MAX_PREFIX_LENGTH * 4])[:MAX_PREFIX_LENGTH]
    if not prefix:
        return []
    if kind is not None:
        get_kind(kind)  # UnknownKind for the caller
    completion: dict[str, Any] = {"field": "suggest", "size": size, "skip_duplicates": True}
    if len(prefix) >= 4:
        completion["fuzzy"] = {"fuzziness": 1}
    indices = [k.alias for k in _scope(kind)]
    try:
        response = client(timeout=TIMEOUT_S, retries=0).search(
            index=",".join(indices),
            ignore_unavailable=True,
            allow_no_indices=True,
            suggest={"titles": {"prefix": prefix, "completion": completion}},
            source_includes=["doc_kind", "url", "title"],
            size=0,
        )
    except SearchUnavailable:
        return [
            Suggestion(text=row.get("title", ""), kind=row.get("doc_kind", ""), url=row.get("url", ""))
            for row in selectors.fallback_titles(prefix=prefix, kind=kind, limit=size)
        ]
    options = response.body.get("suggest", {}).get("titles", [{}])[0].get("options", [])
    seen: set[str] = set()
    suggestions = []
    for option in options:
        if option["text"] in seen:
            continue
        seen.add(option["text"])
        source = option.get("_source", {})
        suggestions.append(Suggestion(text=option["text"], kind=source.get("doc_kind", ""), url=source.get("url", "")))
    return suggestions

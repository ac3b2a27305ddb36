"""Index definitions in code: the kinds of document, their fields, analysis and facets, and their indices.

Each kind has one concrete index `{alias}-{timestamp}` behind the alias `{SEARCH_INDEX_PREFIX}{kind}`;
everything reads and writes through the alias, so a reindex can swap in a new index atomically.
Adding a kind is one `register(DocumentKind(...))` here plus one event mapping in services/indexer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import Organisation
from hub.sectors import SECTORS

Label = str | Promise

# One analyzer for Chinese and English alike: the standard tokenizer keeps Latin words whole and cuts
# CJK text into characters, cjk_bigram pairs those (智慧医疗 → 智慧 慧医 医疗), so a Chinese query
# matches without a dictionary. The English fields (`*_en`) also get an `.en` subfield that adds English
# stop words and stemming (hospitals → hospit) on the same bigrams. The built-in `english` analyzer is
# not used: it would cut Chinese into single characters, which match far too much. Chinese fields get
# no stemmed subfield: it would find nothing more and made bulk indexing ~40% slower on noida-db.
ANALYSIS = {
    "filter": {
        "wanzhi_possessive": {"type": "stemmer", "language": "possessive_english"},
        "wanzhi_stop": {"type": "stop", "stopwords": "_english_"},
        "wanzhi_stemmer": {"type": "stemmer", "language": "english"},
    },
    "analyzer": {
        "wanzhi_text": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["cjk_width", "lowercase", "cjk_bigram"],
        },
        "wanzhi_english": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["cjk_width", "lowercase", "cjk_bigram", "wanzhi_possessive", "wanzhi_stop", "wanzhi_stemmer"],
        },
    },
}
KEYWORD_SUBFIELD = {"keyword": {"type": "keyword", "ignore_above": 256}}
TEXT: dict[str, Any] = {"type": "text", "analyzer": "wanzhi_text"}
TEXT_EN: dict[str, Any] = {**TEXT, "fields": {"en": {"type": "text", "analyzer": "wanzhi_english"}}}
# Text that is also a facet or an exact filter: `.keyword` holds the whole value.
TEXT_KEYWORD: dict[str, Any] = {**TEXT, "fields": KEYWORD_SUBFIELD}
KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
LONG = {"type": "long"}

# The fields every kind has; queries, highlighting and sorting use only these, so one query serves all.
# A document in English only (an English page) fills the *_en fields.
COMMON_PROPERTIES: dict[str, Any] = {
    "doc_kind": KEYWORD,  # the kind's name: per-kind counts for the tabs come from it
    "deleted": {"type": "boolean"},  # a tombstone (see push in hub/search/indexing.py)
    "title": TEXT_KEYWORD,
    "title_en": {**TEXT_EN, "fields": {**TEXT_EN["fields"], **KEYWORD_SUBFIELD}},
    "summary": TEXT,
    "summary_en": TEXT_EN,
    "body": TEXT,
    "body_en": TEXT_EN,
    "url": {"type": "keyword", "index": False},
    "date": DATE,  # what "newest first" sorts by
    # Autocomplete. The simple analyzer keeps a CJK run whole, so 智慧 completes 智慧医疗….
    "suggest": {"type": "completion", "analyzer": "simple"},
}
SEARCH_FIELDS = ("title", "title_en", "summary", "summary_en", "body", "body_en")
TITLE_FIELDS = ("title", "title_en")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class UnknownKind(LookupError):
    pass


@dataclass(frozen=True)
class Bucket:
    """One range of a range facet: [gte, lt); for date facets the bounds are days from today."""

    key: str
    label: Label
    gte: int | None = None
    lt: int | None = None


@dataclass(frozen=True)
class Facet:
    """A filter readers tick, with counts: terms of a keyword field, or fixed ranges of a number or date."""

    name: str  # the filter's name in URLs and the API
    label: Label
    field: str  # the indexed field it filters and counts
    buckets: tuple[Bucket, ...] = ()  # a range facet; a terms facet has none
    dates: bool = False  # bucket bounds are days from today
    # A closed vocabulary (value → label), checked on input; None: any value (city, organisation …).
    choices: Callable[[], Mapping[str, Label]] | None = None
    size: int = 20  # terms shown

    @property
    def source_key(self) -> str:
        """Where the value sits in a SearchDocument's source (for the database fallback)."""
        return self.field.removesuffix(".keyword")

    def accepts(self, value: str) -> bool:
        if self.buckets:
            return any(bucket.key == value for bucket in self.buckets)
        if self.choices is not None:
            return value in self.choices()
        return bool(value)

    def label_of(self, value: str) -> Label:
        for bucket in self.buckets:
            if bucket.key == value:
                return bucket.label
        if self.choices is not None:
            return self.choices().get(value, value)
        return value

    def bounds(self, bucket: Bucket) -> tuple[Any, Any]:
        """A bucket's bounds as values of the field (dates as YYYY-MM-DD, counted from today)."""
        if not self.dates:
            return bucket.gte, bucket.lt
        today = timezone.localdate()
        gte, lt = (
            None if days is None else (today + dt.timedelta(days=days)).isoformat() for days in (bucket.gte, bucket.lt)
        )
        return gte, lt

    def es_filter(self, values: Iterable[str]) -> dict[str, Any]:
        values = list(values)
        if not self.buckets:
            return {"terms": {self.field: values}}
        ranges = []
        for bucket in self.buckets:
            if bucket.key in values:
                gte, lt = self.bounds(bucket)
                ranges.append({"range": {self.field: {k: v for k, v in (("gte", gte), ("lt", lt)) if v is not None}}})
        return {"bool": {"should": ranges, "minimum_should_match": 1}}

    def es_aggregation(self) -> dict[str, Any]:
        if not self.buckets:
            return {"terms": {"field": self.field, "size": self.size}}
        ranges = []
        for bucket in self.buckets:
            gte, lt = self.bounds(bucket)
            ranges.append({"key": bucket.key, **{k: v for k, v in (("from", gte), ("to", lt)) if v is not None}})
        # date_range for dates: noida-db's plain range aggregation counts nothing on a date field.
        return {"date_range" if self.dates else "range": {"field": self.field, "ranges": ranges}}


@dataclass(frozen=True)
class DocumentKind:
    """A kind of searchable document: one index (behind one alias) with the common fields plus its own."""

    name: str
    label: Label
    properties: Mapping[str, Any] = field(default_factory=dict)
    facets: tuple[Facet, ...] = ()

    @property
    def alias(self) -> str:
        return f"{settings.SEARCH_INDEX_PREFIX}{self.name}"

    def new_index_name(self) -> str:
        # Microseconds: two reindexes in one second still get two names.
        return f"{self.alias}-{timezone.now().strftime('%Y%m%d%H%M%S%f')}"

    def index_body(self) -> dict[str, Any]:
        return {
            "settings": {"number_of_shards": 1, "analysis": ANALYSIS},
            # strict: a field the mapping does not know is refused at indexing time, not silently guessed
            "mappings": {"dynamic": "strict", "properties": {**COMMON_PROPERTIES, **self.properties}},
        }

    def document(self, **fields: Any) -> dict[str, Any]:
        """The document as indexed, from the common fields (title, url, date …) and the kind's own.

        Control characters are dropped from every string (highlighting uses two of them as markers),
        empty values left out; the titles become the autocomplete inputs.
        """
        unknown = set(fields) - set(COMMON_PROPERTIES) - set(self.properties)
        if unknown:
            raise ValueError(f"{self.name} documents have no field {', '.join(sorted(unknown))}")
        # Empty values are left out: a missing field is what a date or number facet can skip.
        doc: dict[str, Any] = {key: _clean(value) for key, value in fields.items() if value is not None and value != ""}
        doc["doc_kind"] = self.name
        doc["deleted"] = False
        inputs = [doc[name].strip()[:50] for name in TITLE_FIELDS if isinstance(doc.get(name), str) and doc[name]]
        if inputs:
            doc["suggest"] = {"input": list(dict.fromkeys(inputs))}
        return doc

    def tombstone(self) -> dict[str, Any]:
        """What stands for a withdrawn document: no text, no autocomplete input, only the flag queries skip."""
        return {"doc_kind": self.name, "deleted": True}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return CONTROL_CHARS.sub("", value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


_kinds: dict[str, DocumentKind] = {}


def register(kind: DocumentKind) -> DocumentKind:
    """Add a kind; facet names are unique across kinds, since a filter's name alone says which facet."""
    taken = {facet.name: other.name for other in _kinds.values() if other.name != kind.name for facet in other.facets}
    for facet in kind.facets:
        if facet.name in taken or facet.name in ("q", "kind", "sort", "page", "size"):
            raise ValueError(f"facet name {facet.name!r} of {kind.name} is taken")
    _kinds[kind.name] = kind
    return kind


def kinds() -> list[DocumentKind]:
    return list(_kinds.values())


def get_kind(name: str) -> DocumentKind:
    try:
        return _kinds[name]
    except KeyError:
        raise UnknownKind(f"no document kind {name!r}") from None


def facets() -> dict[str, tuple[Facet, DocumentKind]]:
    """Every facet by name, with the kind it belongs to."""
    return {facet.name: (facet, kind) for kind in _kinds.values() for facet in kind.facets}


# --- the kinds ------------------------------------------------------------------------------------

SCENARIO_STATUSES: dict[str, Label] = {
    "open": _("Open"),
    "matching": _("Matching"),
    "awarded": _("Awarded"),
    "closed": _("Closed"),
}
PAGE_KINDS: dict[str, Label] = {
    "policy": _("Policy"),
    "news": _("News"),
    "announcement": _("Announcement"),
    "page": _("Page"),
}
VALIDITIES: dict[str, Label] = {
    "valid": _("Valid"),
    "amended": _("Amended"),
    "repealed": _("Repealed"),
    "expired": _("Expired"),
}

SCENARIOS = register(
    DocumentKind(
        name="scenarios",
        label=_("Scenarios"),
        properties={
            "sector": KEYWORD,
            "city": TEXT_KEYWORD,
            "status": KEYWORD,
            "budget_min": LONG,
            "budget_max": LONG,
            "budget": LONG,  # the upper bound, or the lower one where only that is given: what budget facets count
            "deadline": DATE,
            "organisation_id": LONG,
            "organisation_name": TEXT_KEYWORD,
            "data_available": {"type": "text", "index": False},  # shown, not searched
            "published_at": DATE,
            "updated_at": DATE,
        },
        facets=(
            Facet("sector", _("Sector"), "sector", choices=lambda: SECTORS),
            Facet("city", _("City"), "city.keyword"),
            Facet("status", _("Status"), "status", choices=lambda: SCENARIO_STATUSES),
            Facet(
                "budget",
                _("Budget"),
                "budget",
                buckets=(
                    Bucket("lt-100k", _("Under ¥100,000"), lt=100_000),
                    Bucket("100k-1m", _("¥100,000 – ¥1 million"), gte=100_000, lt=1_000_000),
                    Bucket("1m-10m", _("¥1 – 10 million"), gte=1_000_000, lt=10_000_000),
                    Bucket("10m-plus", _("¥10 million or more"), gte=10_000_000),
                ),
            ),
            Facet(
                "deadline",
                _("Deadline"),
                "deadline",
                dates=True,
                buckets=(
                    Bucket("7d", _("Within 7 days"), gte=0, lt=8),
                    Bucket("30d", _("Within 30 days"), gte=0, lt=31),
                    Bucket("90d", _("Within 90 days"), gte=0, lt=91),
                    Bucket("later", _("Later"), gte=91),
                    Bucket("passed", _("Passed"), lt=0),
                ),
            ),
            Facet("organisation", _("Organisation"), "organisation_name.keyword"),
        ),
    )
)

PAGES = register(
    DocumentKind(
        name="pages",
        label=_("Policies and news"),
        properties={
            "page_id": LONG,
            "page_type": KEYWORD,
            "locale": KEYWORD,
            "page_kind": KEYWORD,
            "topic": TEXT_KEYWORD,
            "issuing_body": TEXT_KEYWORD,
            "validity": KEYWORD,
        },
        facets=(
            # Not "kind": that parameter already chooses the tab (scenarios, pages, organisations).
            Facet("page_kind", _("Type"), "page_kind", choices=lambda: PAGE_KINDS),
            Facet("topic", _("Topic"), "topic.keyword"),
            Facet("issuing_body", _("Issuing body"), "issuing_body.keyword"),
            Facet("validity", _("Validity"), "validity", choices=lambda: VALIDITIES),
            Facet(
                "date",
                _("Date"),
                "date",
                dates=True,
                buckets=(
                    Bucket("30d", _("Past 30 days"), gte=-30),
                    Bucket("1y", _("Past year"), gte=-365),
                    Bucket("older", _("Older"), lt=-365),
                ),
            ),
        ),
    )
)

# The public statuses of a competition (competitions.models.Competition.Status, which this layer may not import).
COMPETITION_STATUSES: dict[str, Label] = {
    "published": _("Announced"),
    "running": _("Running"),
    "finished": _("Finished"),
    "archived": _("Archived"),
}

COMPETITIONS = register(
    DocumentKind(
        name="competitions",
        label=_("Competitions"),
        properties={
            "competition_status": KEYWORD,
            "organisation_id": LONG,
            "organisation_name": TEXT_KEYWORD,
            "starts_at": DATE,
            "ends_at": DATE,
            "published_at": DATE,
        },
        facets=(
            Facet("competition_status", _("Status"), "competition_status", choices=lambda: COMPETITION_STATUSES),
            Facet("host", _("Host"), "organisation_name.keyword"),
        ),
    )
)

FUND_KINDS: dict[str, Label] = {
    "angel": _("Angel fund"),
    "industry": _("Industry fund"),
    "compute_subsidy": _("Compute subsidy programme"),
}

CALLS = register(
    DocumentKind(
        name="calls",
        label=_("Fund calls"),
        properties={
            "fund_kind": KEYWORD,
            "fund_id": LONG,
            "organisation_name": TEXT_KEYWORD,  # the fund's name: what readers filter by
            "opens_at": DATE,
            "closes_at": DATE,
            "published_at": DATE,
        },
        facets=(
            Facet("fund_kind", _("Kind of fund"), "fund_kind", choices=lambda: FUND_KINDS),
            Facet("fund", _("Fund"), "organisation_name.keyword"),
        ),
    )
)

ORGANISATIONS = register(
    DocumentKind(
        name="organisations",
        label=_("Organisations"),
        properties={
            "organisation_id": LONG,
            "org_kind": KEYWORD,
            "region": TEXT,
            # The profile, what matching (hub/search/matching.py) reads.
            "description": TEXT,
            "description_en": TEXT_EN,
            "capabilities": TEXT_KEYWORD,
            "sectors": KEYWORD,
        },
        facets=(
            Facet("org_kind", _("Organisation type"), "org_kind", choices=lambda: dict(Organisation.Kind.choices)),
        ),
    )
)

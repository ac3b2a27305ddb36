"""Elasticsearch's side of indexing: indices and aliases exist, documents are pushed, pending ones caught up.

Every push is a bulk request of `index` operations with the document's own version as an external
version, through the kind's alias (require_alias: a write never creates a stray index). Elasticsearch
then refuses any version at or below the one it holds, so two pushers racing (the indexer, a reindex,
a repair) cannot put an older version over a newer one. A withdrawn document is indexed as a tombstone
document, not deleted: noida-db forgets a deleted document's version at once (Elasticsearch keeps it
for index.gc_deletes, 60 s), after which a late push of an older version would bring it back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q

from hub.search.client import SearchUnavailable, client
from hub.search.indices import DocumentKind, get_kind, kinds
from hub.search.models import SearchDocument
from hub.search.services import StoredDocument, documents_forget_indexed, documents_mark_indexed

log = logging.getLogger(__name__)

# Serialises ensure_indices across processes: two indexers starting together must not both put an
# index behind one alias (writes through an alias with two indices fail).
LOCK_CLASS = 0x5EA7
PUSH_CHUNK = 2000  # documents per bulk request (~2–4 MB of JSON)
PENDING = Q(indexed_version__isnull=True) | Q(indexed_version__lt=F("version"))


def ensure_indices(*, names: Iterable[str] | None = None) -> list[str]:
    """Create the index and alias of every kind (or of `names`) that has none; return the aliases made.

    Idempotent. A kind whose index is created new has all its documents marked pending, so the
    indexer's catch-up fills it from the read model (Elasticsearch lost its data, or this is a fresh one).
    Raises the client's error if Elasticsearch is unreachable.
    """
    es = client()
    created = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_CLASS])
        for kind in [get_kind(name) for name in names] if names is not None else kinds():
            if es.indices.exists_alias(name=kind.alias):
                continue
            if es.indices.exists(index=kind.alias):
                raise RuntimeError(f"{kind.alias} is an index, not an alias: delete it, then run search_reindex")
            create_index(kind, aliases={kind.alias: {}})
            documents_forget_indexed(kind=kind.name)
            log.info("search index created", extra={"alias": kind.alias})
            created.append(kind.alias)
    return created


def create_index(kind: DocumentKind, *, aliases: dict[str, Any] | None = None, refresh: bool = True) -> str:
    """A new, empty concrete index for `kind`; returns its name. Without `refresh` it is created with
    periodic refresh off, for a bulk fill (set it back with `index_refresh_on`)."""
    name = kind.new_index_name()
    body = kind.index_body()
    if not refresh:
        body["settings"] = {**body["settings"], "refresh_interval": "-1"}
    client().indices.create(index=name, aliases=aliases or {}, **body)
    return name


def index_refresh_on(name: str) -> None:
    """Periodic refresh back to the default, and one refresh now, after a bulk fill."""
    es = client()
    es.indices.put_settings(index=name, settings={"index": {"refresh_interval": None}})
    es.indices.refresh(index=name)


def indices_behind(alias: str) -> list[str]:
    """The concrete indices an alias points to (none if it does not exist)."""
    es = client()
    if not es.indices.exists_alias(name=alias):
        return []
    return sorted(es.indices.get_alias(name=alias).body)


@dataclass
class PushResult:
    pushed: int = 0  # Elasticsearch holds these (or a newer version of them)
    failed: int = 0  # still pending
    error: str | None = None  # the first failure, for the log

    def add(self, other: PushResult) -> None:
        self.pushed += other.pushed
        self.failed += other.failed
        self.error = self.error or other.error


def documents_push(
    *, documents: Sequence[StoredDocument], index: str | None = None, refresh: bool = False
) -> PushResult:
    """Send documents to Elasticsearch in bulk and record those it holds; never raises for its errors.

    Each goes to its kind's alias, or to the concrete `index` (a reindex filling a new index). A
    version conflict means Elasticsearch already holds that version or a newer one: that counts as
    pushed. Anything else leaves the document pending for the indexer's catch-up loop.
    """
    result = PushResult()
    for start in range(0, len(documents), PUSH_CHUNK):
        result.add(_push_chunk(documents[start : start + PUSH_CHUNK], index=index, refresh=refresh))
    return result


def _push_chunk(documents: Sequence[StoredDocument], *, index: str | None, refresh: bool) -> PushResult:
    if not documents:
        return PushResult()
    operations: list[dict[str, Any]] = []
    for doc in documents:
        target = {"_index": index} if index else {"_index": get_kind(doc.kind).alias, "require_alias": True}
        operations.append({"index": {**target, "_id": doc.doc_id, "version": doc.version, "version_type": "external"}})
        operations.append(doc.source)
    try:
        response = client().bulk(operations=operations, refresh=refresh)
    except SearchUnavailable as exc:
        log.warning("pushing to Elasticsearch failed; documents stay pending", extra={"error": str(exc)[:300]})
        return PushResult(failed=len(documents), error=f"{type(exc).__name__}: {exc}")
    result = PushResult()
    held: list[tuple[str, str, int]] = []
    for doc, item in zip(documents, response["items"], strict=True):
        outcome = item["index"]
        if outcome["status"] < 300 or outcome["status"] == 409:
            held.append((doc.kind, doc.doc_id, doc.version))
        else:
            result.failed += 1
            result.error = result.error or f"{doc.kind}/{doc.doc_id}: {outcome.get('error')}"
    if result.failed:
        log.warning("Elasticsearch refused documents", extra={"failed": result.failed, "error": result.error})
    documents_mark_indexed(documents=held)
    result.pushed = len(held)
    return result


def documents_push_pending(
    *, kind: str | None = None, chunk: int = PUSH_CHUNK, stop: threading.Event | None = None
) -> PushResult:
    """Push every pending document (Elasticsearch holds an older version or none), chunk by chunk.

    Stops at the first chunk Elasticsearch does not take as a whole (it is down: the next round tries
    again); documents it refuses one by one are skipped, so one bad document cannot stall the rest.
    """
    total = PushResult()
    after = 0
    rows = SearchDocument.objects.filter(PENDING)
    if kind is not None:
        rows = rows.filter(kind=kind)
    while stop is None or not stop.is_set():
        page = list(
            rows.filter(id__gt=after)
            .order_by("id")
            .values_list("id", "kind", "doc_id", "version", "source", "deleted")[:chunk]
        )
        if not page:
            break
        after = page[-1][0]
        result = documents_push(documents=[StoredDocument(*row[1:]) for row in page])
        total.add(result)
        if result.pushed == 0 and result.failed:
            break
    return total


def pending_count(*, kind: str | None = None) -> int:
    rows = SearchDocument.objects.filter(PENDING)
    return (rows.filter(kind=kind) if kind else rows).count()

"""Reindexing a kind into a fresh index without losing concurrent updates, and reconciling drift.

Reindex, while the indexer keeps writing through the alias:
1. barrier: lock the read model against writes for an instant (SHARE mode waits for every write in
   flight to commit) and read the change sequence: every row written later gets a higher change_seq;
2. fill the new index from the read model, in bulk, with external versions;
3. swap the alias to the new index in one update_aliases call (remove + add: atomic);
4. push again every row with change_seq above the barrier. Such a row committed after the barrier, so
   the fill may have missed it and its own push may have gone to the old index; a row committed after
   the swap is pushed by its writer through the alias, to the new index. External versions make the
   second push of a document Elasticsearch already holds a no-op;
5. delete the old index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import connection, transaction
from elasticsearch import helpers

from hub.search.client import client
from hub.search.indexing import (
    PUSH_CHUNK,
    create_index,
    documents_push,
    ensure_indices,
    index_refresh_on,
    indices_behind,
)
from hub.search.indices import get_kind
from hub.search.models import CHANGE_SEQUENCE, SearchDocument
from hub.search.services import StoredDocument

log = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    kind: str
    index: str
    loaded: int
    repushed: int
    removed: list[str]
    seconds: float


def change_barrier() -> int:
    """The change_seq at or below which every write has committed; every later write gets a higher one.

    SHARE mode conflicts with the ROW EXCLUSIVE lock each upsert holds until it commits: taking it
    waits for writes in flight and holds new ones back for the instant the sequence is read.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE search_searchdocument IN SHARE MODE")
        cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {CHANGE_SEQUENCE}")  # noqa: S608
        return int(cursor.fetchone()[0])


def _stored(kind: str, *, after_seq: int | None = None, chunk: int = PUSH_CHUNK) -> Iterator[list[StoredDocument]]:
    """Every document of `kind` (or those changed after `after_seq`), chunk by chunk, in id order."""
    rows = SearchDocument.objects.filter(kind=kind)
    if after_seq is not None:
        rows = rows.filter(change_seq__gt=after_seq)
    last = 0
    while True:
        page = list(
            rows.filter(id__gt=last).order_by("id").values_list("id", "doc_id", "version", "source", "deleted")[:chunk]
        )
        if not page:
            return
        last = page[-1][0]
        yield [StoredDocument(kind, doc_id, version, source, deleted) for _, doc_id, version, source, deleted in page]


def index_rebuild(*, kind: str, on_filled: Callable[[], None] | None = None) -> RebuildReport:
    """Rebuild `kind`'s index from the read model and swap it in; no concurrent update is lost.

    `on_filled` runs between filling the new index and the swap (tests make updates there).
    Raises the client's error if Elasticsearch fails; the old index then stays in service.
    """
    started = time.monotonic()
    document_kind = get_kind(kind)
    alias = document_kind.alias
    es = client(timeout=120)
    ensure_indices(names=[kind])
    # Periodic refresh off while filling: noida-db indexed a 40,000-document bulk load 1.8 times as fast so.
    new_index = create_index(document_kind, refresh=False)
    try:
        barrier = change_barrier()
        loaded = 0
        for documents in _stored(kind):
            result = documents_push(documents=documents, index=new_index)
            if result.failed:
                raise RuntimeError(f"filling {new_index} failed: {result.error}")
            loaded += result.pushed
        index_refresh_on(new_index)
        if on_filled is not None:
            on_filled()
        old = indices_behind(alias)
        es.indices.update_aliases(
            actions=[
                *({"remove": {"index": name, "alias": alias}} for name in old),
                {"add": {"index": new_index, "alias": alias}},
            ]
        )
    except BaseException:
        es.options(ignore_status=404).indices.delete(index=new_index)
        raise
    repushed = 0
    for documents in _stored(kind, after_seq=barrier):
        repushed += documents_push(documents=documents).pushed
    for name in old:
        es.options(ignore_status=404).indices.delete(index=name)
    report = RebuildReport(kind, new_index, loaded, repushed, old, time.monotonic() - started)
    log.info("search index rebuilt", extra={"kind": kind, "index": new_index, "loaded": loaded, "repushed": repushed})
    return report


@dataclass
class ReconcileReport:
    kind: str
    indexed: int = 0  # documents in the index (tombstones included)
    stored: int = 0  # live documents in the read model
    missing: list[str] = field(default_factory=list)  # live in the read model, absent from the index
    stale: list[str] = field(default_factory=list)  # in the index at another version than the read model
    orphaned: list[str] = field(default_factory=list)  # live in the index, withdrawn or unknown in the read model
    repaired: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.orphaned)


def index_reconcile(*, kind: str, repair: bool = False) -> ReconcileReport:
    """Compare the index with the read model (ids and versions) and, with `repair`, make them agree.

    The index is read first: a document updated meanwhile then looks stale (the read model moves
    first), which a repair re-pushes harmlessly, never the other way round.
    """
    document_kind = get_kind(kind)
    es = client(timeout=120)
    es.indices.refresh(index=document_kind.alias)
    in_index: dict[str, tuple[int, bool]] = {}
    for hit in helpers.scan(
        es, index=document_kind.alias, query={"_source": ["deleted"]}, version=True, size=5000, preserve_order=False
    ):
        in_index[hit["_id"]] = (int(hit["_version"]), bool(hit.get("_source", {}).get("deleted")))
    stored = {
        doc_id: (version, deleted)
        for doc_id, version, deleted in SearchDocument.objects.filter(kind=kind).values_list(
            "doc_id", "version", "deleted"
        )
    }
    report = ReconcileReport(kind=kind, indexed=len(in_index), stored=sum(1 for _, d in stored.values() if not d))
    ahead: list[str] = []  # the index holds a version the read model never reached: only a forced write fixes it
    for doc_id, (version, deleted) in stored.items():
        indexed = in_index.get(doc_id)
        if indexed is None:
            if not deleted:
                report.missing.append(doc_id)
        elif indexed[0] != version:
            (report.orphaned if deleted and not indexed[1] else report.stale).append(doc_id)
            if indexed[0] > version:
                ahead.append(doc_id)
        elif deleted != indexed[1]:
            (report.orphaned if deleted else report.stale).append(doc_id)
            ahead.append(doc_id)
    unknown = [doc_id for doc_id, (_, deleted) in in_index.items() if doc_id not in stored and not deleted]
    report.orphaned.extend(unknown)
    if repair and not report.clean:
        report.repaired = _repair(kind, report, ahead=ahead, unknown=unknown)
    return report


def _repair(kind: str, report: ReconcileReport, *, ahead: list[str], unknown: list[str]) -> int:
    alias = get_kind(kind).alias
    es = client(timeout=120)
    doomed = [*ahead, *unknown]
    if doomed:
        # A plain delete drops the version Elasticsearch holds, so the read model's version can go in.
        helpers.bulk(
            es,
            ({"_op_type": "delete", "_index": alias, "_id": doc_id} for doc_id in doomed),
            raise_on_error=False,
        )
    wanted = set(report.missing) | set(report.stale) | (set(report.orphaned) - set(unknown))
    repaired = len(unknown)
    rows = SearchDocument.objects.filter(kind=kind, doc_id__in=wanted)
    documents = [StoredDocument(kind, *row) for row in rows.values_list("doc_id", "version", "source", "deleted")]
    repaired += documents_push(documents=documents, refresh=True).pushed
    log.info("search index repaired", extra={"kind": kind, "repaired": repaired})
    return repaired

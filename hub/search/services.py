"""Writes to the search read model: version-gated upserts of documents, and what Elasticsearch holds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.dispatch import Signal

from hub.search.indices import get_kind
from hub.search.models import CHANGE_SEQUENCE


@dataclass(frozen=True)
class DocumentChange:
    """A version of one document: its source as indexed, or None for a tombstone (withdrawn)."""

    kind: str
    doc_id: str
    version: int
    source: dict[str, Any] | None


@dataclass(frozen=True)
class StoredDocument:
    """A document as the read model holds it: what is pushed to Elasticsearch."""

    kind: str
    doc_id: str
    version: int
    source: dict[str, Any]
    deleted: bool


# Sent once the transaction that changed the read model commits, with `kinds` (a set of kind names):
# pages that show read-model items (the home page) drop their cached copies.
documents_changed = Signal()

_UPSERT = f"""
INSERT INTO search_searchdocument AS d (kind, doc_id, version, source, deleted, indexed_version, updated_at, change_seq)
SELECT c.kind, c.doc_id, c.version, c.source, c.deleted, NULL, now(), nextval('{CHANGE_SEQUENCE}')
FROM jsonb_to_recordset(%s::jsonb) AS c(kind text, doc_id text, version bigint, source jsonb, deleted boolean)
ON CONFLICT (kind, doc_id) DO UPDATE
SET version = excluded.version, source = excluded.source, deleted = excluded.deleted,
    updated_at = excluded.updated_at, change_seq = excluded.change_seq
WHERE excluded.version > d.version
RETURNING d.kind, d.doc_id
"""  # noqa: S608  (the only interpolation is a constant)


def documents_apply(*, changes: Iterable[DocumentChange]) -> list[StoredDocument]:
    """Write every change whose version is above the stored one, in one statement; return those written.

    A version at or below the stored one changes nothing, so a late, redelivered or reordered event is
    harmless, and a tombstone keeps a withdrawn document from coming back. Of several changes to one
    document only the highest version counts. Runs in the caller's transaction; the rows returned are
    pending until documents_mark_indexed records that Elasticsearch has them.
    """
    newest: dict[tuple[str, str], DocumentChange] = {}
    for change in changes:
        key = (change.kind, change.doc_id)
        if key not in newest or change.version > newest[key].version:
            newest[key] = change
    if not newest:
        return []
    documents = {
        key: StoredDocument(
            kind=change.kind,
            doc_id=change.doc_id,
            version=change.version,
            source=change.source if change.source is not None else get_kind(change.kind).tombstone(),
            deleted=change.source is None,
        )
        for key, change in newest.items()
    }
    with connection.cursor() as cursor:
        rows = [
            {"kind": d.kind, "doc_id": d.doc_id, "version": d.version, "source": d.source, "deleted": d.deleted}
            for d in documents.values()
        ]
        cursor.execute(_UPSERT, [json.dumps(rows, ensure_ascii=False)])
        # Only the keys come back: the rows written are the ones sent, so their JSON need not be read again.
        written = cursor.fetchall()
    if written:
        kinds = {kind for kind, _doc_id in written}
        transaction.on_commit(lambda: documents_changed.send(sender=StoredDocument, kinds=kinds))
    return [documents[(kind, doc_id)] for kind, doc_id in written]


def documents_mark_indexed(*, documents: Iterable[tuple[str, str, int]]) -> int:
    """Record that Elasticsearch holds (kind, doc_id) at `version` or newer; returns the rows touched.

    indexed_version only grows: a slow acknowledgement of an older version never hides a newer one.
    """
    kinds, doc_ids, versions = [], [], []
    for kind, doc_id, version in documents:
        kinds.append(kind)
        doc_ids.append(doc_id)
        versions.append(version)
    if not kinds:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE search_searchdocument AS d "
            "SET indexed_version = GREATEST(COALESCE(d.indexed_version, 0), p.version) "
            "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS p(kind, doc_id, version) "
            "WHERE d.kind = p.kind AND d.doc_id = p.doc_id",
            [kinds, doc_ids, versions],
        )
        return cursor.rowcount


def documents_forget_indexed(*, kind: str) -> int:
    """Mark every document of `kind` pending: its index was created empty, so the indexer refills it."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE search_searchdocument SET indexed_version = NULL WHERE kind = %s", [kind])
        return cursor.rowcount

"""Events → the search read model → Elasticsearch, a batch at a time.

Per batch polled from Kafka: decode and validate each message (a poison one is dead-lettered), map it
to document changes, write them all in one version-gated statement and transaction (no inbox: the
version gate makes a redelivery or a late event a no-op), commit the offsets, and push the rows that
changed to Elasticsearch in one bulk request. Pushes run on threads of their own while the next
batch is read and written, so the search server's indexing overlaps our decoding; at most one batch
waits for them. bench/search.py: the indexer keeps 0.8–0.95 of the rate at which noida-db takes a raw
bulk load of the same documents, which is what limits it there.

The read model is the record, which is why the offsets need not wait for the push: a document it
holds and Elasticsearch does not is pending (indexed_version < version), and a catch-up loop pushes
pending documents, at start and every few seconds. So if Elasticsearch is down the writes still
commit and the index catches up when it is back, and a crash before a push loses nothing either.
A crash before the offsets commit redelivers the batch, which changes nothing the second time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from kafka import OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from hub.events import kafka
from hub.events.consumer import dead_letter, parse_message
from hub.events.failpoints import failpoint
from hub.events.topics import topic_for_event, topic_name
from hub.search.client import SearchUnavailable
from hub.search.indexing import documents_push, documents_push_pending, ensure_indices
from hub.search.services import DocumentChange, StoredDocument, documents_apply
from services.indexer.mapping import Mapper, active_mappers

log = logging.getLogger(__name__)

CONSUMER = "indexer"
MAX_BACKOFF = 30.0


@dataclass
class IndexerStats:
    batches: int = 0
    events: int = 0  # mapped to document changes
    ignored: int = 0  # types the indexer does not follow
    dead_lettered: int = 0
    written: int = 0  # document versions the read model took
    stale: int = 0  # changes at or below the stored version: nothing happened
    pushed: int = 0
    push_failed: int = 0


class Pusher:
    """Runs pushes on threads of their own; submit() waits while a batch is already queued.

    Two threads by default: while Elasticsearch indexes one bulk request the next is already built and
    sent, so it never idles between them (batches may land out of order: external versions sort that).
    """

    def __init__(self, push: Callable[[list[StoredDocument]], None], *, workers: int = 2) -> None:
        self._push = push
        self._queue: queue.Queue[list[StoredDocument] | None] = queue.Queue(maxsize=1)
        self._threads = [
            threading.Thread(target=self._run, name=f"indexer-push-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, documents: list[StoredDocument]) -> None:
        self._queue.put(documents)

    def drain(self) -> None:
        """Wait until every batch submitted so far has been pushed (or has failed: it is pending)."""
        self._queue.join()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(60)

    def _run(self) -> None:
        try:
            while (documents := self._queue.get()) is not None:
                try:
                    self._push(documents)
                except Exception:  # the documents stay pending: the catch-up loop pushes them
                    log.exception("indexer: push failed")
                finally:
                    self._queue.task_done()
        finally:
            connection.close()  # this thread's own database connection


class Indexer:
    def __init__(
        self,
        *,
        batch_size: int = 2000,
        poll_timeout_ms: int = 500,
        catchup_every: float = 5.0,
        consumer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.mappers: dict[str, Mapper] = active_mappers()
        self.batch_size = batch_size
        self.poll_timeout_ms = poll_timeout_ms
        self.catchup_every = catchup_every
        self.consumer_overrides = consumer_overrides or {}
        self.backoff: float = settings.EVENTS["CONSUMER_BACKOFF_SECONDS"]
        self.stats = IndexerStats()
        self.indices_ready = False
        self._next_catchup = 0.0  # monotonic time of the next catch-up round
        self._catchup_failures = 0
        self._pusher: Pusher | None = None
        self._stats_lock = threading.Lock()

    @property
    def group_id(self) -> str:
        return topic_name(CONSUMER)

    def topics(self) -> list[str]:
        return sorted({topic_for_event(type_name) for type_name in self.mappers})

    # --- one batch ---------------------------------------------------------------------------------
    def apply_batch(self, records: list[ConsumerRecord], stop: threading.Event) -> list[StoredDocument] | None:
        """Write one batch to the read model; returns what changed (to push), None if `stop` came while
        the database was unavailable."""
        mapped = self._map(records)
        written = self._write(mapped, stop)
        if written is None:
            return None
        self.stats.batches += 1
        self.stats.written += len(written)
        self.stats.stale += sum(len(changes) for _, changes in mapped) - len(written)
        return written

    def _map(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, list[DocumentChange]]]:
        mapped = []
        for record in records:
            try:
                envelope, event = parse_message(record.value, wanted=self.mappers)
                if event is None:
                    self.stats.ignored += 1
                    continue
                changes = self.mappers[envelope.type](event, envelope)
            except DatabaseError:
                raise  # a mapping that reads the database met an outage: the batch is retried, not lost
            except Exception as exc:  # PoisonMessage, or an event its mapping cannot take: retrying cannot help
                self._dead_letter(record, exc)
                continue
            self.stats.events += 1
            mapped.append((record, changes))
        return mapped

    def _write(
        self, mapped: list[tuple[ConsumerRecord, list[DocumentChange]]], stop: threading.Event
    ) -> list[StoredDocument] | None:
        """One statement for the whole batch; retried while the database is away (None if stopped)."""
        attempt = 0
        while True:
            try:
                with transaction.atomic():
                    return documents_apply(changes=[change for _, changes in mapped for change in changes])
            except (OperationalError, InterfaceError) as exc:
                connection.close()  # reconnect on the next try
                error: Exception = exc
            except DatabaseError:
                # One change the database refuses must not hold back the others: apply them one by one.
                return self._write_each(mapped)
            attempt += 1
            wait = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
            log.warning("indexer: database write failed; retrying", extra={"attempt": attempt, "error": str(error)})
            if stop.wait(wait):
                return None

    def _write_each(self, mapped: list[tuple[ConsumerRecord, list[DocumentChange]]]) -> list[StoredDocument]:
        written: list[StoredDocument] = []
        for record, changes in mapped:
            try:
                with transaction.atomic():
                    written.extend(documents_apply(changes=changes))
            except (OperationalError, InterfaceError):
                raise
            except DatabaseError as exc:
                self._dead_letter(record, exc)
        return written

    def _dead_letter(self, record: ConsumerRecord, error: BaseException) -> None:
        dead_letter(record, error, consumer=CONSUMER, attempts=1)
        self.stats.dead_lettered += 1

    def push(self, documents: list[StoredDocument]) -> None:
        if not self.indices_ready:
            self.ensure_indices()
        result = documents_push(documents=documents)
        with self._stats_lock:  # the push threads share the counters
            self.stats.pushed += result.pushed
            self.stats.push_failed += result.failed
            if result.failed:
                self._next_catchup = min(self._next_catchup, time.monotonic() + self._catchup_delay())

    # --- catching up after an outage ---------------------------------------------------------------
    def ensure_indices(self) -> None:
        try:
            ensure_indices()
            self.indices_ready = True
        except SearchUnavailable as exc:
            log.warning("indexer: Elasticsearch unavailable; documents stay pending", extra={"error": str(exc)})

    def _catchup_delay(self) -> float:
        return min(self.backoff * 2**self._catchup_failures, self.catchup_every)

    def catch_up(self, stop: threading.Event) -> None:
        """Push documents left pending (Elasticsearch was down, or refused them); backs off while it fails."""
        if self._pusher is not None:
            self._pusher.drain()  # what is queued is pending too: pushing it twice would only cost time
        if not self.indices_ready:
            self.ensure_indices()
        result = documents_push_pending(stop=stop)
        self.stats.pushed += result.pushed
        if result.pushed:
            log.info("indexer: pending documents pushed", extra={"pushed": result.pushed})
        if result.failed and not result.pushed:
            self._catchup_failures += 1
        else:
            self._catchup_failures = 0
        self._next_catchup = time.monotonic() + (self._catchup_delay() if result.failed else self.catchup_every)

    # --- the loop ----------------------------------------------------------------------------------
    def poll(self, consumer: Any) -> tuple[list[ConsumerRecord], dict[TopicPartition, OffsetAndMetadata]]:
        """Up to batch_size records: what the first poll brings, topped up while more is already there."""
        records: list[ConsumerRecord] = []
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        timeout = self.poll_timeout_ms
        while len(records) < self.batch_size:
            batch = consumer.poll(timeout_ms=timeout, max_records=self.batch_size - len(records))
            if not batch:
                break
            for partition, chunk in batch.items():
                records.extend(chunk)
                offsets[partition] = OffsetAndMetadata(chunk[-1].offset + 1, "", -1)
            timeout = 0
        return records, offsets

    def run(self, stop: threading.Event) -> None:
        """Index until `stop` is set; offsets are committed only once a batch is in the read model."""
        kafka.ensure_topics()
        self.ensure_indices()
        consumer = kafka.new_consumer(
            *self.topics(),
            group_id=self.group_id,
            max_poll_records=self.batch_size,
            **self.consumer_overrides,
        )
        self._pusher = Pusher(self.push)
        log.info("indexer started", extra={"topics": self.topics(), "types": sorted(self.mappers)})
        try:
            while not stop.is_set():
                records, offsets = self.poll(consumer)
                if records:
                    written = self.apply_batch(records, stop)
                    if written is None:
                        break
                    failpoint("indexer.before_push")
                    consumer.commit(offsets=offsets)
                    self._pusher.submit(written)
                if time.monotonic() >= self._next_catchup:
                    self.catch_up(stop)
        finally:
            self._pusher.close()
            consumer.close()
            log.info("indexer stopped", extra={"stats": self.stats.__dict__})

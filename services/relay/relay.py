"""Outbox → Kafka.

Each relay owns whole shards of the outbox through PostgreSQL advisory locks held by its session, so
several relays can run without two of them sending one key (a bare SKIP LOCKED would reorder a key).
It sends a batch, waits for Kafka's acks, then stamps the rows sent: a crash in between resends the
batch (at least once), and consumers drop the duplicates through their inbox. When idle it sleeps on
LISTEN/NOTIFY, which publish() fires on commit, instead of a poll interval.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from kafka.errors import KafkaError

from hub.events import kafka
from hub.events.envelope import CONTENT_TYPE
from hub.events.failpoints import failpoint
from hub.events.publish import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

# Advisory lock keys are (class, shard); the class keeps ours apart from anyone else's locks.
LOCK_CLASS = 0x57A1
HEADERS = [("content-type", CONTENT_TYPE.encode())]


class Relay:
    def __init__(
        self,
        *,
        batch_size: int | None = None,
        idle_wait: float = 2.0,
        claim_every: float = 5.0,
        producer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.batch_size = batch_size or settings.EVENTS["RELAY_BATCH_SIZE"]
        self.shards = settings.EVENTS["OUTBOX_SHARDS"]
        self.idle_wait = idle_wait
        self.claim_every = claim_every
        self.producer_overrides = producer_overrides or {}
        self.owned: list[int] = []
        self.sent = 0
        self._producer = None
        self._tracked: set[str] = set()  # topics the current producer keeps metadata for

    def connect(self) -> psycopg.Connection:
        params = connections["default"].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        return psycopg.connect(**params, autocommit=True)

    def claim_shards(self, conn: psycopg.Connection) -> None:
        """Take every shard no other relay holds; a lock dies with its session, freeing a dead relay's."""
        for shard in range(self.shards):
            if shard in self.owned:
                continue
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, shard)).fetchone()
            if row and row[0]:
                self.owned.append(shard)
        self.owned.sort()

    def producer(self) -> Any:
        if self._producer is None:
            self._producer = kafka.new_producer(**self.producer_overrides)
            self._tracked = set()
        return self._producer

    def relay_batch(self, conn: psycopg.Connection) -> int:
        """Send one batch of unsent rows from the owned shards; returns how many were sent and marked."""
        if not self.owned:
            return 0
        rows = conn.execute(
            "SELECT id, topic, key, body FROM events_outboxevent "
            "WHERE sent_at IS NULL AND shard = ANY(%s) ORDER BY id LIMIT %s",
            (self.owned, self.batch_size),
        ).fetchall()
        if not rows:
            return 0
        producer = self.producer()
        try:
            if new_topics := {row[1] for row in rows} - self._tracked:
                kafka.track_topics(producer, new_topics)
                self._tracked |= new_topics
            futures = [
                producer.send(topic, key=key.encode(), value=body.encode(), headers=HEADERS)
                for _, topic, key, body in rows
            ]
            producer.flush()
            for future in futures:
                future.get(timeout=0)  # raises the send's error, if any
        except KafkaError:
            # A broken idempotent producer never recovers by itself; nothing is marked, all is resent.
            self._producer = None
            kafka.close_quietly(producer)
            raise
        failpoint("relay.after_send")
        conn.execute("UPDATE events_outboxevent SET sent_at = now() WHERE id = ANY(%s)", ([row[0] for row in rows],))
        self.sent += len(rows)
        return len(rows)

    def wait_for_commit(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        """Sleep until publish() notifies a commit, `stop` is set, or idle_wait passes (to claim the
        shards of a relay that died); waits in short slices so a stop is seen within half a second."""
        deadline = time.monotonic() + self.idle_wait
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if any(True for _ in conn.notifies(timeout=min(remaining, 0.5), stop_after=1)):
                for _ in conn.notifies(timeout=0):  # one read serves every commit queued so far
                    pass
                return

    def run(self, stop: threading.Event) -> None:
        kafka.ensure_topics()
        conn = self.connect()
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        log.info("relay started")
        last_claim = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() - last_claim > self.claim_every:
                    self.claim_shards(conn)
                    last_claim = time.monotonic()
                try:
                    moved = self.relay_batch(conn)
                except KafkaError:
                    log.warning("sending to Kafka failed; retrying", exc_info=True)
                    stop.wait(1.0)
                    continue
                if moved < self.batch_size:
                    # Less than a full batch: nothing else is waiting. Commits made meanwhile have
                    # queued their notifications, so this returns at once for them.
                    self.wait_for_commit(conn, stop)
        finally:
            if self._producer is not None:
                kafka.close_quietly(self._producer)
            conn.close()
            log.info("relay stopped", extra={"sent": self.sent, "shards": self.owned})

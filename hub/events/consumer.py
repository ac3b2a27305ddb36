"""The consumer runtime: a Kafka consumer group that applies each event once, through the inbox.

At least once from Kafka + an inbox row written in the handler's transaction = an effect exactly once.
A handler that keeps failing has its message sent to the dead-letter topic with the error.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Container
from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone
from kafka import OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from hub.events import kafka
from hub.events.envelope import Envelope
from hub.events.failpoints import failpoint
from hub.events.registry import Event, Handler, UnknownEventType, decode, event_class, handlers_for
from hub.events.topics import deadletter_topic, topic_for_event, topic_name
from hub.observability import correlation

log = logging.getLogger(__name__)


_current: contextvars.ContextVar[Envelope] = contextvars.ContextVar("current_envelope")


def current_envelope() -> Envelope:
    """The envelope of the event being applied (its id, time, subject), for handlers that need them."""
    return _current.get()


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this consumer applied the event before: nothing happens
    IGNORED = "ignored"  # no handler here for this type


class PoisonMessage(Exception):
    """The message can never be applied as it is (not a CloudEvent, unknown type, breaks its schema)."""


def parse_message(raw: bytes | str, *, wanted: Container[str]) -> tuple[Envelope, Event | None]:
    """The message's envelope and typed event; the event is None when its type is not in `wanted`.

    Raises PoisonMessage if the message can never be applied as it is: not a CloudEvent, a wanted type
    that is not registered, data that breaks the type's schema, or an id that is not a UUID.
    """
    try:
        envelope = Envelope.from_json(raw)
        if envelope.type not in wanted:
            return envelope, None
        event = decode(envelope.type, envelope.data)
        uuid.UUID(envelope.id)  # the inbox keys events by UUID, which every publish() gives them
    except (ValueError, UnknownEventType, TypeError) as exc:  # EnvelopeError, EventSchemaError included
        raise PoisonMessage(str(exc)) from exc
    return envelope, event


def dead_letter(record: ConsumerRecord, error: BaseException, *, consumer: str, attempts: int) -> None:
    """Send `record` to the dead-letter topic with its error, for `replay_dead_letters` once fixed."""
    value = record.value
    reason = f"{type(error).__name__}: {error}"
    letter = {
        "consumer": consumer,
        "error": reason,
        "traceback": "".join(traceback.format_exception(error))[-4000:],
        "attempts": attempts,
        "failed_at": timezone.now().isoformat(),
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "event": value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value,
    }
    headers = [("dlq-consumer", consumer.encode()), ("dlq-error", reason[:200].encode())]
    kafka.producer().send(
        deadletter_topic(),
        key=record.key,
        value=json.dumps(letter, ensure_ascii=False).encode(),
        headers=headers,
    ).get(timeout=30)
    log.error("event dead-lettered", extra={"consumer": consumer, "error": reason})


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0


class Consumer:
    """Applies the events of the types registered for `name` (see registry.handles)."""

    def __init__(self, name: str, *, handlers: dict[str, list[Handler]] | None = None) -> None:
        self.name = name
        self.handlers = handlers if handlers is not None else handlers_for(name)
        if not self.handlers:
            raise ValueError(f"consumer {name!r} has no handlers registered")
        for type_name in self.handlers:
            event_class(type_name)  # fail at start, not at the first message, if a type is unknown
        self.max_tries: int = settings.EVENTS["CONSUMER_MAX_TRIES"]
        self.backoff: float = settings.EVENTS["CONSUMER_BACKOFF_SECONDS"]
        self.stats = ConsumerStats()

    @property
    def group_id(self) -> str:
        return topic_name(self.name)

    def topics(self) -> list[str]:
        return sorted({topic_for_event(type_name) for type_name in self.handlers})

    # --- applying one event -----------------------------------------------------------
    def apply(self, raw: bytes | str) -> Outcome:
        """Apply one message's event in one transaction with its inbox row; raise if the handler fails."""
        envelope, event = parse_message(raw, wanted=self.handlers)
        if event is None:
            return Outcome.IGNORED
        handlers = self.handlers[envelope.type]
        token = _current.set(envelope)
        try:
            with correlation(envelope.correlationid), transaction.atomic():
                if not self._remember(envelope):
                    return Outcome.DUPLICATE
                for handler in handlers:
                    handler(event)
                log.debug(
                    "event applied",
                    extra={"consumer": self.name, "type": envelope.type, "event_id": envelope.id},
                )
        finally:
            _current.reset(token)
        return Outcome.APPLIED

    def _remember(self, envelope: Envelope) -> bool:
        """Write the inbox row; False if this consumer has already applied the event."""
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events_inboxentry (consumer, event_id, type, applied_at) "
                "VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (consumer, event_id) DO NOTHING",
                [self.name, envelope.id, envelope.type, timezone.now()],
            )
            return cursor.rowcount == 1

    def apply_with_retries(self, record: ConsumerRecord, stop: threading.Event) -> Outcome | None:
        """Apply with exponential backoff; after the last try, dead-letter it. None if dead-lettered."""
        error: BaseException | None = None
        for attempt in range(1, self.max_tries + 1):
            try:
                return self.apply(record.value)
            except PoisonMessage as exc:
                error = exc
                break  # retrying cannot help
            except (OperationalError, InterfaceError) as exc:
                error = exc
                connection.close()  # the database went away: reconnect on the next try
            except Exception as exc:
                error = exc
            log.warning(
                "handler failed",
                extra={
                    "consumer": self.name,
                    "attempt": attempt,
                    "offset": record.offset,
                    "error": str(error),
                },
            )
            if attempt < self.max_tries and stop.wait(self.backoff * 2 ** (attempt - 1)):
                break
        assert error is not None
        self.dead_letter(record, error, attempts=attempt)
        return None

    def dead_letter(self, record: ConsumerRecord, error: BaseException, *, attempts: int) -> None:
        dead_letter(record, error, consumer=self.name, attempts=attempts)
        self.stats.dead_lettered += 1

    # --- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, poll_timeout_ms: int = 500) -> None:
        """Consume until `stop` is set; commits offsets only for messages fully handled."""
        kafka.ensure_topics()
        consumer = kafka.new_consumer(*self.topics(), group_id=self.group_id)
        log.info("consumer started", extra={"consumer": self.name, "topics": self.topics()})
        try:
            while not stop.is_set():
                batch = consumer.poll(timeout_ms=poll_timeout_ms)
                done: dict[TopicPartition, OffsetAndMetadata] = {}
                handled = 0
                for partition, records in batch.items():
                    for record in records:
                        if stop.is_set():
                            break
                        self._count(self.apply_with_retries(record, stop))
                        done[partition] = OffsetAndMetadata(record.offset + 1, "", -1)
                        handled += 1
                        if handled == 1:
                            failpoint("consumer.mid_batch")
                if done:
                    consumer.commit(offsets=done)
        finally:
            consumer.close()
            log.info("consumer stopped", extra={"consumer": self.name, "stats": self.stats.__dict__})

    def _count(self, outcome: Outcome | None) -> None:
        if outcome is Outcome.APPLIED:
            self.stats.applied += 1
        elif outcome is Outcome.DUPLICATE:
            self.stats.duplicates += 1
        elif outcome is Outcome.IGNORED:
            self.stats.ignored += 1


def read_topic(topic: str, *, idle_seconds: float = 2.0, **overrides: Any) -> list[ConsumerRecord]:
    """Every record of a topic from the start, read without a group (until `idle_seconds` bring nothing).

    The local broker's end offsets are unreliable, so 'the end' is a quiet spell, not end_offsets().
    """
    reader = kafka.new_consumer(group_id=None, **overrides)
    try:
        partitions = reader.partitions_for_topic(topic) or set()
        reader.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        reader.seek_to_beginning()
        records: list[ConsumerRecord] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_seconds:
            batch = reader.poll(timeout_ms=200)
            for chunk in batch.values():
                records.extend(chunk)
            if batch:
                quiet_since = time.monotonic()
        return records
    finally:
        reader.close()

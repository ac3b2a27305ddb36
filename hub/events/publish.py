"""publish(): write an event to the outbox inside the caller's transaction; the relay sends it later."""

from __future__ import annotations

import uuid
import zlib

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from hub.events.envelope import Envelope
from hub.events.models import OutboxEvent
from hub.events.registry import Event, validate
from hub.events.topics import topic_for_event
from hub.observability import get_correlation_id

NOTIFY_CHANNEL = "wanzhi_outbox"


class PublishOutsideTransaction(RuntimeError):
    """publish() was called in autocommit mode, where the event could outlive a failed write."""


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % settings.EVENTS["OUTBOX_SHARDS"]


def publish(event: Event, *, key: str | int, subject: str | None = None, using: str = "default") -> Envelope:
    """Record `event` in the outbox of the current transaction, keyed by its aggregate id.

    Nothing goes to Kafka here: if the transaction rolls back, the event never existed.
    Events with one key reach consumers in the order their transactions commit.
    """
    if not transaction.get_connection(using).in_atomic_block:
        raise PublishOutsideTransaction(
            f"publish({event.type_name}) must run inside transaction.atomic(), with the write it describes"
        )
    data = event.to_data()
    validate(event.type_name, data)
    key = str(key)
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source=f"{settings.EVENTS['SOURCE']}/{event.context}",
        type=event.type_name,
        time=timezone.now().isoformat(),
        subject=subject or key,
        data=data,
        correlationid=get_correlation_id(),
    )
    OutboxEvent.objects.using(using).create(
        event_id=envelope.id,
        type=envelope.type,
        topic=topic_for_event(envelope.type),
        key=key,
        shard=shard_of(key),
        body=envelope.to_json(),
    )
    # Delivered on commit only, and collapsed to one per transaction by PostgreSQL: wakes the relay.
    with connections[using].cursor() as cursor:
        cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return envelope

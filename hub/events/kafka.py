"""Kafka clients: one producer per process (made again after a fork), consumers and topic creation."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from hub.events.topics import topic_specs

log = logging.getLogger(__name__)

_producer: KafkaProducer | None = None
_producer_pid: int | None = None


def new_producer(**overrides: Any) -> KafkaProducer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "client_id": f"wanzhi-{os.getpid()}",
    }
    config.update(overrides)
    producer = KafkaProducer(**config)
    track_topics(producer, [spec.name for spec in topic_specs()], wait=False)
    return producer


def track_topics(producer: KafkaProducer, names: Iterable[str], *, wait: bool = True) -> None:
    """Keep `names` in every metadata refresh of this producer; with `wait`, until it knows them.

    kafka-python 3.0 does not track the topics it learns from its first metadata: once it sends to a
    topic made later, its refreshes cover that topic only, the others lose their leaders and the
    sender thread spins at a full core; and a topic first used while a refresh is in flight can vanish
    between two lookups of one send. Tracking a topic before its first send avoids both
    (tests/hub/events/test_kafka_clients.py shows the spin).
    """
    names = list(names)
    for name in names:
        producer._sender.add_topic(name)
    if wait:
        for name in names:
            producer.partitions_for(name)


def producer() -> KafkaProducer:
    """This process's producer; a forked child (Celery, server workers) gets its own, never the parent's."""
    global _producer, _producer_pid
    if _producer is None or _producer_pid != os.getpid():
        _producer, _producer_pid = new_producer(), os.getpid()
    return _producer


def reset_producer() -> None:
    """Drop the producer after a fatal error: an idempotent producer stays broken once its broker restarts."""
    global _producer
    if _producer is not None and _producer_pid == os.getpid():
        close_quietly(_producer)
    _producer = None


def close_quietly(client: KafkaProducer | KafkaConsumer) -> None:
    try:
        client.close(timeout=2)  # type: ignore[call-arg]
    except Exception:  # closing a broken client may fail too; it is dropped either way
        log.warning("closing a Kafka client failed", exc_info=True)


def new_consumer(*topics: str, group_id: str | None, **overrides: Any) -> KafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Short sessions make a group (re)join take seconds, not half a minute.
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "max_poll_records": 200,
        # The local broker holds a fetch for about as long as this allows even when data is there;
        # 500 ms (the default) made end-to-end p99 ~300 ms, 50 ms brings it to ~40 ms (bench/events.py).
        "fetch_max_wait_ms": 50,
        "client_id": f"wanzhi-{group_id or 'reader'}-{os.getpid()}",
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


def ensure_topics() -> list[str]:
    """Create the configured topics that are missing; returns the names it created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, client_id="wanzhi-admin")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in topic_specs() if spec.name not in existing]
        created = []
        for spec in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=spec.replication_factor,
                        )
                    ]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process made it first
        return created
    finally:
        admin.close()

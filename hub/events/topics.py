"""Topic names and partition counts, read from infra/topics.toml; which topic an event type goes to."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

from django.conf import settings

DEADLETTER = "deadletter"


class UnknownTopic(LookupError):
    pass


@dataclass(frozen=True)
class TopicSpec:
    name: str  # prefixed, as on the broker
    partitions: int
    replication_factor: int


@cache
def _config() -> dict:
    with open(settings.BASE_DIR / "infra" / "topics.toml", "rb") as fh:
        return tomllib.load(fh)


def topic_specs() -> list[TopicSpec]:
    config = _config()
    defaults = config.get("defaults", {})
    return [
        TopicSpec(
            name=topic_name(name),
            partitions=int(spec.get("partitions", defaults.get("partitions", 1))),
            replication_factor=int(spec.get("replication_factor", defaults.get("replication_factor", 1))),
        )
        for name, spec in config["topics"].items()
    ]


def topic_name(name: str) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}{name}"


def topic_for_event(type_name: str) -> str:
    """Events go to their context's topic: `accounts.user.registered.v1` → `accounts`."""
    context = type_name.split(".", 1)[0]
    if context not in _config()["topics"] or context == DEADLETTER:
        raise UnknownTopic(f"no topic for context {context!r} in infra/topics.toml (event {type_name})")
    return topic_name(context)


def deadletter_topic() -> str:
    return topic_name(DEADLETTER)

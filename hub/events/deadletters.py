"""Replaying dead letters: apply each again through its consumer's inbox, once its cause is fixed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.events.consumer import Consumer, Outcome, read_topic
from hub.events.topics import deadletter_topic


@dataclass
class ReplayReport:
    replayed: int = 0
    already_applied: int = 0
    still_failing: list[str] = field(default_factory=list)


def replay_dead_letters(*, consumer_factory: Callable[[str], Consumer], only: str | None = None) -> ReplayReport:
    """Re-apply every dead letter (of consumer `only`, or all). Safe to run again: the inbox skips
    events already applied, so a second replay changes nothing."""
    report = ReplayReport()
    consumers: dict[str, Consumer] = {}
    for record in read_topic(deadletter_topic()):
        letter = json.loads(record.value)
        name = letter["consumer"]
        if only and name != only:
            continue
        if name not in consumers:
            consumers[name] = consumer_factory(name)
        try:
            outcome = consumers[name].apply(letter["event"])
        except Exception as exc:
            report.still_failing.append(f"{name} offset {record.offset}: {type(exc).__name__}: {exc}")
            continue
        if outcome is Outcome.APPLIED:
            report.replayed += 1
        else:
            report.already_applied += 1
    return report

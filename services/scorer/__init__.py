"""The scorer: runs submissions in a sandbox and computes their scores outside it, against hidden labels."""

from __future__ import annotations

import threading


def run(stop: threading.Event) -> None:
    """The dispatcher service (`manage.py run_service scorer`): received submissions become scoring jobs."""
    # Imported here: other contexts import the scorer's light modules (config, events) through this package.
    from hub.events.consumer import Consumer
    from services.scorer.dispatch import CONSUMER

    Consumer(CONSUMER).run(stop)

"""Celery beat as a service loop: sends the scheduled tasks (settings.CELERY_BEAT_SCHEDULE) on time.

`make run` runs it as a thread of the one services process, which costs nothing like beat's own process
(or the worker's forked `--beat` child, a second copy of Django). Production runs `celery -A hub beat`,
one for all workers. Run exactly one beat per deployment: two would send each task twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from celery.beat import Service
from django.conf import settings

from hub.celery import app

log = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 5.0  # wake this often to notice a stop


def run(stop: threading.Event) -> None:
    Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
    beat = Service(app, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME)
    log.info("beat started", extra={"schedule": settings.CELERY_BEAT_SCHEDULE_FILENAME})
    try:
        while not stop.is_set():
            due_in = beat.scheduler.tick()  # sends what is due; seconds until the next task is
            stop.wait(min(due_in, MAX_SLEEP_SECONDS))
    finally:
        beat.sync()  # keeps the last-run times, so a restart does not send everything again

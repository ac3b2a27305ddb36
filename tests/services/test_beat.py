"""services.beat: Celery beat as a service loop sends what is due to the broker, keeps its schedule file,
and stops when told."""

from __future__ import annotations

import threading

import redis
from django.conf import settings

from hub.celery import app
from services import beat
from tests.support import wait_for


def test_beat_sends_due_tasks_and_stops_when_told(tmp_path, monkeypatch):
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = f"beat-test-{tmp_path.name}"
    monkeypatch.setattr(settings, "CELERY_BEAT_SCHEDULE_FILENAME", str(tmp_path / "schedule" / "beat"))
    schedule = app.conf.beat_schedule
    app.conf.beat_schedule = {
        "probe": {"task": "hub.cms.tasks.publish_scheduled_pages", "schedule": 0.2, "options": {"queue": queue}}
    }
    stop = threading.Event()
    thread = threading.Thread(target=beat.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: client.llen(queue) >= 2, timeout=15)
    finally:
        stop.set()
        thread.join(10)
        client.delete(queue)
        app.conf.beat_schedule = schedule
    assert not thread.is_alive()
    assert any((tmp_path / "schedule").iterdir())  # last-run times kept for the next start

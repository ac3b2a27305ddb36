"""The Celery app: long work (scoring, e-mail, reports) and beat schedules."""

import os

from celery import Celery, signals

from hub import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

app = Celery("wanzhi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.before_task_publish.connect
def _carry_correlation_id(headers: dict | None = None, **_: object) -> None:
    """Send the caller's correlation id along with the task, so the worker's logs join the request's."""
    if headers is not None:
        headers.setdefault("correlation_id", observability.get_correlation_id())


@signals.task_prerun.connect
def _adopt_correlation_id(task: object = None, **_: object) -> None:
    request = getattr(task, "request", None)
    observability.set_correlation_id(getattr(request, "correlation_id", None))

"""Celery tasks of the scorer (thin: they call services.scorer.jobs and services.scorer.watchdog)."""

from __future__ import annotations

from celery import Task, shared_task
from django.db.utils import InterfaceError, OperationalError

from services.scorer.jobs import SCORE_TASK, job_run
from services.scorer.watchdog import jobs_watch


# Late ack and reject on worker lost: a worker process that dies mid-job puts the message back. A submission
# that fails ends as a failed job and the task returns normally: never retried. Only a lost database is
# retried (a running job's redelivery does nothing; the watchdog requeues it once its heartbeat is stale).
@shared_task(
    bind=True,
    name=SCORE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def score(self: Task, job_id: str) -> str:
    """Score one job on this worker; returns "finished", "failed" or "skipped"."""
    return job_run(job_id=job_id, worker=self.request.hostname)


@shared_task(name="services.scorer.tasks.watchdog")
def watchdog() -> dict[str, int]:
    """Requeue or fail the running jobs whose worker is lost or whose deadline passed."""
    report = jobs_watch()
    return {"requeued": len(report.requeued), "failed": len(report.failed)}

"""The watchdog (Celery beat, every 15 s): no scoring job stays running once its worker is gone or its
deadline has passed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from services.scorer.jobs import OVERRAN, WORKER_LOST, failed_event, job_announce_queued, job_close, job_send
from services.scorer.models import ScoringJob

log = logging.getLogger(__name__)
Status = ScoringJob.Status


@dataclass
class WatchReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def jobs_watch() -> WatchReport:
    """Act on every running job that is past its deadline or whose heartbeat is stale, one transaction each.

    Past its deadline (start + time limit + grace): failed as "overran", a platform failure. Stale (its worker
    disappeared): requeued at the front of its queue and sent again while attempts are left, else failed as
    "worker_lost", a platform failure. A job whose row a worker holds locked right now is left to the next round.
    """
    report = WatchReport()
    suspects = ScoringJob.objects.filter(status=Status.RUNNING).filter(
        Q(deadline_at__lt=timezone.now()) | Q(heartbeat_at__lt=_stale_before())
    )
    for job_id in suspects.values_list("pk", flat=True):
        with transaction.atomic():
            job = (
                ScoringJob.objects.select_for_update(skip_locked=True).filter(pk=job_id, status=Status.RUNNING).first()
            )
            if job is None:  # ended meanwhile, or its worker is recording its end
                continue
            assert job.deadline_at is not None and job.heartbeat_at is not None
            if job.deadline_at < timezone.now():
                failure = OVERRAN
            elif job.heartbeat_at < _stale_before():
                if job.attempts < settings.SCORING["MAX_ATTEMPTS"]:
                    _requeue(job)
                    report.requeued.append(str(job.pk))
                    continue
                failure = WORKER_LOST
            else:  # the heartbeat came back meanwhile
                continue
            job_close(job=job, event=failed_event(str(job.pk), job.submission_id, failure))
            report.failed.append(str(job.pk))
            log.warning("scoring job failed by the watchdog", extra={"job_id": str(job.pk), "code": failure.code})
    return report


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.SCORING["STALE_SECONDS"])


def _requeue(job: ScoringJob) -> None:
    log.warning(
        "scoring job requeued: its worker was lost",
        extra={"job_id": str(job.pk), "worker": job.worker, "attempts": job.attempts},
    )
    job.status = Status.QUEUED
    job.worker = ""
    job.heartbeat_at = job.started_at = job.deadline_at = None
    job.save(update_fields=["status", "worker", "heartbeat_at", "started_at", "deadline_at"])
    job_announce_queued(job)
    job_send(job)

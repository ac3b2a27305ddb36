"""Reads of scoring jobs that pages and the scorer share: where a submission waits, and when it may start."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from services.scorer.models import ScoringJob

Status = ScoringJob.Status
RECENT_JOBS = 50  # the wall times the estimate takes its median of
RECENT_WORKERS = timedelta(hours=1)  # a worker that ran a job this recently counts as live


@dataclass(frozen=True)
class QueuePosition:
    """Where a submission's scoring job stands.

    `position` is its place among the queued jobs of its queue (1 = next), None once it runs or ended;
    `queue_length` counts the queued jobs of that queue. `estimated_start` (None when unknown or not
    queued) is now + median wall time of the queue's last RECENT_JOBS jobs × ceil(position / workers):
    a rough upper estimate that takes every worker to have just begun its job. `workers` counts the
    distinct workers that ran a job of this queue within RECENT_WORKERS (at least 1): idle workers that
    ran nothing lately are not seen, which only makes the estimate later.
    """

    job_id: str
    status: str
    queue: str
    position: int | None
    queue_length: int
    workers: int
    median_wall_seconds: float | None
    estimated_start: datetime | None


def queue_position(*, submission_id: int) -> QueuePosition | None:
    """The submission's place on its queue, or None if it has no scoring job (yet). At most five small queries."""
    job = (
        ScoringJob.objects.filter(submission_id=submission_id)
        .order_by("-scoring_round")  # the current round's job
        .only("id", "status", "queue", "queued_at")
        .first()
    )
    if job is None:
        return None
    now = timezone.now()
    waiting = ScoringJob.objects.filter(queue=job.queue, status=Status.QUEUED)
    position = None
    if job.status == Status.QUEUED:
        # Requeued jobs keep their first queued_at, so they wait at the front; ties go to the older submission.
        ahead = Q(queued_at__lt=job.queued_at) | Q(queued_at=job.queued_at, submission_id__lt=submission_id)
        position = waiting.filter(ahead).count() + 1
    walls = [
        wall.total_seconds()
        for wall in ScoringJob.objects.filter(queue=job.queue, status=Status.FINISHED)
        .order_by("-finished_at")
        .annotate(wall=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()))
        .values_list("wall", flat=True)[:RECENT_JOBS]
    ]
    since = now - RECENT_WORKERS
    live = Q(status=Status.RUNNING, heartbeat_at__gte=now - timedelta(seconds=settings.SCORING["STALE_SECONDS"]))
    workers = (
        ScoringJob.objects.filter(Q(queue=job.queue) & (live | Q(finished_at__gte=since)))
        .exclude(worker="")
        .values("worker")
        .distinct()
        .count()
    )
    workers = max(workers, 1)
    median = statistics.median(walls) if walls else None
    estimated_start = None
    if position is not None and median is not None:
        estimated_start = now + timedelta(seconds=median * math.ceil(position / workers))
    return QueuePosition(
        job_id=str(job.pk),
        status=job.status,
        queue=job.queue,
        position=position,
        queue_length=waiting.count(),
        workers=workers,
        median_wall_seconds=median,
        estimated_start=estimated_start,
    )

"""Scoring jobs: one row per submission, from its queue to its end, as the dispatcher, workers and watchdog see it."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from services.scorer.events import QUEUE_CPU, QUEUE_GPU


class ScoringJob(models.Model):
    """The scoring of one submission in one round (a host's rescore starts the next round).

    Status: queued → running → finished or failed; a job whose worker was lost goes back from running to
    queued (attempts counts the starts). `payload` is the received event's data: everything a worker needs,
    the hidden data excepted (found by `phase_id`).

    `heartbeat_at` is refreshed by the worker running it; `deadline_at` (start + time limit + grace) is when
    it must have ended. The watchdog acts on both, so no job stays running.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"
        FAILED = "failed", "failed"

    class Queue(models.TextChoices):
        CPU = QUEUE_CPU, QUEUE_CPU
        GPU = QUEUE_GPU, QUEUE_GPU

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission_id = models.BigIntegerField()  # competitions' id: another context, so no foreign key
    scoring_round = models.PositiveSmallIntegerField(default=1)  # one more each time the host rescores
    phase_id = models.BigIntegerField()
    queue = models.CharField(max_length=20, choices=Queue.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission_id", "scoring_round"], name="scoringjob_once_per_round"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished", "failed"]), name="scoringjob_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status="running") | (Q(heartbeat_at__isnull=False) & Q(deadline_at__isnull=False)),
                name="scoringjob_running_is_watched",
            ),
        ]
        indexes = [
            # Queue position: the queued jobs of one queue in order.
            models.Index(fields=["queue", "queued_at"], name="scoringjob_waiting", condition=Q(status="queued")),
            # The watchdog reads only running jobs.
            models.Index(fields=["heartbeat_at"], name="scoringjob_running", condition=Q(status="running")),
            # Recent wall times for the start estimate.
            models.Index(fields=["queue", "-finished_at"], name="scoringjob_finished", condition=Q(status="finished")),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} (submission {self.submission_id}, {self.status})"

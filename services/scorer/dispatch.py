"""The dispatcher (consumer "scorer"): turns each received submission into one scoring job on its queue."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction

from hub.events.registry import handles
from services.scorer.events import QUEUE_CPU, QUEUE_GPU
from services.scorer.jobs import job_announce_queued, job_send
from services.scorer.models import ScoringJob

if TYPE_CHECKING:  # competitions registers the type; the scorer only reads the event's fields
    from competitions.events import SubmissionReceived

log = logging.getLogger(__name__)

CONSUMER = "scorer"
RECEIVED = "competitions.submission.received.v1"


def queue_for(resources: str) -> str:
    """The worker queue of a phase's resources ("gpu" or "cpu")."""
    return QUEUE_GPU if resources == "gpu" else QUEUE_CPU


def job_create(*, received: dict[str, Any]) -> ScoringJob:
    """Record the scoring job of a received submission (its event's data), publish JobQueued, and send the
    Celery task once the transaction commits. A submission has one job per scoring round: a second event
    for the same round returns the existing job and sends nothing."""
    with transaction.atomic():
        job, created = ScoringJob.objects.get_or_create(
            submission_id=received["submission_id"],
            scoring_round=received.get("scoring_round", 1),
            defaults={
                "phase_id": received["phase_id"],
                "queue": queue_for(received["resources"]),
                "payload": received,
            },
        )
        if not created:
            log.info(
                "submission already has a scoring job in this round",
                extra={"submission_id": job.submission_id, "scoring_round": job.scoring_round},
            )
            return job
        job_announce_queued(job)
        job_send(job)
    return job


@handles(RECEIVED, consumer=CONSUMER)
def on_submission_received(event: SubmissionReceived) -> None:
    """Dispatch the submission; applied once per event through the inbox, and once per submission."""
    job_create(received=event.to_data())

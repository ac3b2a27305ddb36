"""Scoring jobs on a worker: claim one, score it under a heartbeat with live progress, and record its end once.

A job is scored once: a worker claims it under a row lock, and its result counts only while the row still
names that worker and attempt. A delivery that finds the job ended, or running elsewhere with a fresh
heartbeat, does nothing; a worker that lost its claim (the watchdog requeued or failed the job) discards
its result.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from hub.celery import app
from hub.events.publish import publish
from services.scorer.errors import ScoringFailed
from services.scorer.events import QUEUE_GPU, JobFailed, JobFinished, JobProgress, JobQueued, JobStarted
from services.scorer.gpu import GpuDevice, NoGpuFree, gpu_slot, gpus_detect
from services.scorer.models import ScoringJob
from services.scorer.selectors import queue_position

if TYPE_CHECKING:
    from services.scorer.scoring import ScoreReport

log = logging.getLogger(__name__)

SCORE_TASK = "services.scorer.tasks.score"
LOG_TAIL_CHARS = 20_000  # what scoring.job.failed.v1 carries
Status = ScoringJob.Status


# The platform failures the scorer itself declares (the entrant keeps the quota slot).
OVERRAN = ScoringFailed(
    "overran",
    "Scoring ran past its time limit on the platform's side; your submission does not count against your quota.",
    platform_failure=True,
)
WORKER_LOST = ScoringFailed(
    "worker_lost",
    "The scoring worker was lost several times; your submission does not count against your quota.",
    platform_failure=True,
)
SCORER_ERROR = ScoringFailed(
    "scorer_error",
    "The scorer failed on the platform's side; your submission does not count against your quota.",
    platform_failure=True,
)


def time_limit_of(payload: Mapping[str, Any]) -> int:
    """A job's time limit in seconds: its phase's, cut to SCORING["MAX_TIME_LIMIT_SECONDS"]."""
    return min(int(payload["time_limit_seconds"]), settings.SCORING["MAX_TIME_LIMIT_SECONDS"])


def job_send(job: ScoringJob) -> None:
    """Put the job's task on its queue once the caller's transaction commits (a rollback sends nothing).

    Soft time limit: time limit + grace, when the worker fails the job as overran itself; hard: one grace
    later, when Celery kills the worker process and the watchdog ends the job.
    """
    limit, grace = time_limit_of(job.payload), settings.SCORING["GRACE_SECONDS"]
    job_id, queue = str(job.pk), job.queue
    transaction.on_commit(
        lambda: app.send_task(
            SCORE_TASK, args=[job_id], queue=queue, soft_time_limit=limit + grace, time_limit=limit + 2 * grace
        )
    )


def job_announce_queued(job: ScoringJob) -> None:
    """Publish JobQueued with the job's place on its queue; inside the transaction that queued it."""
    place = queue_position(submission_id=job.submission_id)
    assert place is not None and place.position is not None
    publish(
        JobQueued(
            job_id=str(job.pk),
            submission_id=job.submission_id,
            queue=job.queue,
            position=place.position,
            queue_length=place.queue_length,
        ),
        key=job.submission_id,
    )


def job_close(*, job: ScoringJob, event: JobFinished | JobFailed) -> None:
    """End a running job with its final event. The caller holds the row's lock in its transaction."""
    job.status = Status.FINISHED if isinstance(event, JobFinished) else Status.FAILED
    job.failure_code = event.code if isinstance(event, JobFailed) else ""
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "failure_code", "finished_at"])
    publish(event, key=job.submission_id)


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one attempt of a job."""

    job_id: str
    submission_id: int
    attempt: int
    worker: str
    queue: str
    payload: dict[str, Any]

    def holds(self, job: ScoringJob) -> bool:
        return job.status == Status.RUNNING and job.attempts == self.attempt and job.worker == self.worker


def job_claim(*, job_id: str, worker: str) -> Claim | None:
    """Mark the job running on `worker` and publish JobStarted; None when this delivery has nothing to do:
    the job is unknown or ended, or another worker runs it with a fresh heartbeat."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SCORING["STALE_SECONDS"])
    with transaction.atomic():
        job = ScoringJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            log.warning("scoring task for an unknown job", extra={"job_id": job_id})
            return None
        if job.status == Status.RUNNING:
            assert job.heartbeat_at is not None
            # A redelivery after its worker died may take over; the watchdog fails it past the last attempt.
            if job.heartbeat_at >= stale or job.attempts >= settings.SCORING["MAX_ATTEMPTS"]:
                return None
        elif job.status != Status.QUEUED:
            log.info("scoring task for an ended job", extra={"job_id": job_id, "status": job.status})
            return None
        job.status = Status.RUNNING
        job.attempts += 1
        job.worker = worker
        job.started_at = job.heartbeat_at = now
        job.deadline_at = now + timedelta(seconds=time_limit_of(job.payload) + settings.SCORING["GRACE_SECONDS"])
        job.save()
        publish(
            JobStarted(
                job_id=str(job.pk),
                submission_id=job.submission_id,
                queue=job.queue,
                worker=worker,
                started_at=now.isoformat(),
            ),
            key=job.submission_id,
        )
    return Claim(str(job.pk), job.submission_id, job.attempts, worker, job.queue, job.payload)


def job_run(*, job_id: str, worker: str) -> str:
    """Run one delivery of a job to its end; returns "finished", "failed" or "skipped" (nothing to do here,
    or the result was discarded because the job is no longer this worker's).

    A submission that fails is a failed job (JobFailed with the reason, not retried); so is a scorer error
    (a platform failure, which gives the entrant's quota slot back).
    """
    claim = job_claim(job_id=job_id, worker=worker)
    if claim is None:
        return "skipped"
    heartbeat = Heartbeat(claim)
    heartbeat.start()
    work_dir = Path(tempfile.mkdtemp(prefix="wanzhi-job-"))
    event: JobFinished | JobFailed
    try:
        report = _score(claim, work_dir=work_dir, on_progress=heartbeat.progress)
        event = JobFinished.from_report(
            job_id=claim.job_id,
            submission_id=claim.submission_id,
            report=report,
            organisation_id=claim.payload.get("organisation_id"),
        )
    except ScoringFailed as failure:
        event = failed_event(claim.job_id, claim.submission_id, failure)
    except SoftTimeLimitExceeded:
        event = failed_event(claim.job_id, claim.submission_id, OVERRAN)
    except Exception:
        log.exception("scoring job crashed", extra={"job_id": claim.job_id})
        event = failed_event(claim.job_id, claim.submission_id, SCORER_ERROR)
    finally:
        heartbeat.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    with transaction.atomic():
        job = ScoringJob.objects.select_for_update().get(pk=claim.job_id)
        if not claim.holds(job):
            log.warning(
                "scoring result discarded: the job is no longer this worker's",
                extra={"job_id": claim.job_id, "attempt": claim.attempt, "status": job.status},
            )
            return "skipped"
        job_close(job=job, event=event)
    return job.status


def failed_event(job_id: str, submission_id: int, failure: ScoringFailed) -> JobFailed:
    """The JobFailed that carries `failure`'s code, reason and log tail."""
    return JobFailed(
        job_id=job_id,
        submission_id=submission_id,
        reason=failure.reason,
        platform_failure=failure.platform_failure,
        log_tail=failure.log_tail[-LOG_TAIL_CHARS:],
        code=failure.code,
    )


def _score(claim: Claim, *, work_dir: Path, on_progress: Any) -> ScoreReport:
    # Imported here: numpy, pyarrow and the sandbox are a worker's business, not every process's that
    # loads the Celery tasks.
    from hub.storage import private_storage
    from services.scorer.config import ScoringConfig
    from services.scorer.hidden import hidden_data_for, scoring_program_for
    from services.scorer.runners import RunContext
    from services.scorer.sandbox import Limits
    from services.scorer.scoring import submission_score

    payload = claim.payload
    submission = Path(private_storage().path(payload["file"]))
    if not submission.is_file():
        raise ScoringFailed(
            "submission_missing", "The submitted file is missing on the platform.", platform_failure=True
        )
    limit = time_limit_of(payload)
    limits = Limits(cpu_seconds=limit, wall_seconds=float(limit), memory_bytes=int(payload["memory_limit_bytes"]))

    def score(gpu: GpuDevice | None) -> ScoreReport:
        return submission_score(
            submission=submission,
            kind=payload["kind"],
            config=ScoringConfig.from_dict(payload["scoring_config"]),
            hidden=hidden_data_for(phase_id=int(payload["phase_id"])),
            context=RunContext(work_dir=work_dir, limits=limits, gpu=gpu, on_progress=on_progress),
            program=scoring_program_for(phase_id=int(payload["phase_id"])),
        )

    if claim.queue != QUEUE_GPU:
        return score(None)
    try:
        with gpu_slot(devices=worker_gpus(), lock_dir=Path(tempfile.gettempdir()) / "wanzhi-gpu-locks") as gpu:
            return score(gpu)
    except NoGpuFree as busy:
        raise ScoringFailed("gpu_busy", "No GPU of the scoring worker was free.", platform_failure=True) from busy


def worker_gpus() -> list[GpuDevice]:
    """This worker's GPUs: those CUDA_VISIBLE_DEVICES names (by UUID or index), else all of the host's."""
    devices = gpus_detect()
    visible = [name.strip() for name in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if name.strip()]
    if not visible:
        return devices
    return [device for device in devices if device.uuid in visible or str(device.index) in visible]


class Heartbeat:
    """While a job runs: refreshes its heartbeat from a thread (the watchdog's sign of a live worker, even
    through a long silent run), and publishes its progress, at most every PROGRESS_EVERY_SECONDS."""

    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{claim.job_id}", daemon=True)
        self._published_at = float("-inf")
        self._percent = -1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _mine(self) -> Any:
        return ScoringJob.objects.filter(pk=self.claim.job_id, status=Status.RUNNING, attempts=self.claim.attempt)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.SCORING["HEARTBEAT_SECONDS"]):
                try:
                    self._mine().update(heartbeat_at=timezone.now())
                except Exception:  # a database blip must not end the job; the next beat tries again
                    log.warning("heartbeat failed", exc_info=True, extra={"job_id": self.claim.job_id})
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    def progress(self, percent: int) -> None:
        """The progress callback of the job's runs."""
        now = time.monotonic()
        if percent <= self._percent or (percent < 100 and now - self._published_at < self._every):
            return
        self._percent, self._published_at = percent, now
        with transaction.atomic():
            if self._mine().update(heartbeat_at=timezone.now()):
                publish(
                    JobProgress(
                        job_id=self.claim.job_id, submission_id=self.claim.submission_id, percent=percent, message=""
                    ),
                    key=self.claim.submission_id,
                )

    @property
    def _every(self) -> float:
        return float(settings.SCORING["PROGRESS_EVERY_SECONDS"])

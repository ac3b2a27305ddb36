"""Events the scorer publishes (topic `scoring`, key = submission id): a job's queueing, start, progress, result
or failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.events.registry import Event, event_type

if TYPE_CHECKING:  # the consumers of these events must not pull in the runners, numpy and the sandbox
    from services.scorer.scoring import ScoreReport

QUEUE_CPU = "score-cpu"
QUEUE_GPU = "score-gpu"


@event_type("scoring.job.queued.v1")
@dataclass(frozen=True)
class JobQueued(Event):
    """A job waits on its queue (again, after a worker was lost): `position` 1 is next, of `queue_length`."""

    job_id: str
    submission_id: int
    queue: str
    position: int
    queue_length: int


@event_type("scoring.job.started.v1")
@dataclass(frozen=True)
class JobStarted(Event):
    job_id: str
    submission_id: int
    queue: str
    worker: str
    started_at: str


@event_type("scoring.job.progress.v1")
@dataclass(frozen=True)
class JobProgress(Event):
    job_id: str
    submission_id: int
    percent: int
    message: str


@event_type("scoring.job.finished.v1")
@dataclass(frozen=True)
class JobFinished(Event):
    job_id: str
    submission_id: int
    scores: dict[str, dict[str, float]]
    primary_ci: dict[str, Any] | None
    device: dict[str, str]
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    reproducibility: dict[str, Any]
    organisation_id: int | None = None

    @classmethod
    def from_report(
        cls, *, job_id: str, submission_id: int, report: ScoreReport, organisation_id: int | None = None
    ) -> JobFinished:
        """The event for a finished scoring: scores per split, the interval, metering (charged by funds to
        `organisation_id`'s compute credit) and the record."""
        ci = report.primary_ci
        primary_ci = None
        if ci is not None and ci.low == ci.low:  # NaN: no resample was defined
            primary_ci = {
                "low": ci.low,
                "high": ci.high,
                "metric": report.primary,
                "split": report.ci_split,
                "confidence": ci.confidence,
                "resamples": ci.resamples,
                "seed": ci.seed,
            }
        return cls(
            job_id=job_id,
            submission_id=submission_id,
            scores=report.scores,
            primary_ci=primary_ci,
            device={"kind": report.device_kind, "id": report.device_id},
            wall_seconds=report.wall_seconds,
            cpu_seconds=report.cpu_seconds,
            peak_memory_bytes=report.peak_memory_bytes,
            reproducibility=report.reproducibility,
            organisation_id=organisation_id,
        )


@event_type("scoring.job.failed.v1")
@dataclass(frozen=True)
class JobFailed(Event):
    job_id: str
    submission_id: int
    reason: str
    platform_failure: bool
    log_tail: str
    code: str = "failed"

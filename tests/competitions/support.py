"""Helpers of the competition tests: uploads, the scorer's job events, and what the outbox holds."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from competitions.models import Competition, Submission
from competitions.services import rules_accept, submission_record_job_event
from hub.accounts.models import User
from hub.events.models import OutboxEvent
from services.scorer.events import JobFailed, JobFinished, JobStarted
from tests.factories import UserFactory

SHA = "a" * 64


def entrant_of(competition: Competition, user: User | None = None) -> User:
    """A user (a new one by default) who accepted the competition's rules, as entering a team needs."""
    user = user or UserFactory()
    rules_accept(competition=competition, by=user)
    return user


def published(type_name: str) -> list[dict]:
    """The data of every event of a type in the outbox, oldest first."""
    bodies = OutboxEvent.objects.filter(type=type_name).order_by("id").values_list("body", flat=True)
    return [json.loads(body)["data"] for body in bodies]


HIDDEN_ROWS = 4  # the hidden test set PhaseFactory gives every phase: ids 0..3, label = id


def predictions(name: str = "predictions.csv", shift: int = 0, size: int = 0) -> SimpleUploadedFile:
    """A valid predictions file for a PhaseFactory phase; `shift` changes the answers (and the checksum)."""
    content = "id,prediction\n" + "".join(f"{i},{(i + shift) % 10}\n" for i in range(HIDDEN_ROWS))
    data = content.encode() + b"#" * max(0, size - len(content))
    return SimpleUploadedFile(name, data, content_type="text/csv")


def finished(submission: Submission, *, public: float, private: float | None = None, **extra: Any) -> JobFinished:
    """The scorer's finished event for `submission`, with accuracy on each split (valid against its schema)."""
    scores = {"public": {"accuracy": public, "f1_macro": public}}
    if private is not None:
        scores["private"] = {"accuracy": private, "f1_macro": private}
    ci = extra.pop("ci", None)
    return JobFinished(
        job_id=str(uuid.uuid4()),
        submission_id=submission.pk,
        scores=scores,
        primary_ci=None if ci is None else {"low": ci[0], "high": ci[1], "metric": "accuracy", "split": "public"},
        device={"kind": "cpu", "id": "cpu"},
        wall_seconds=1.5,
        cpu_seconds=1.2,
        peak_memory_bytes=50_000_000,
        reproducibility={
            "version": 1,
            "submission_sha256": SHA,
            "hidden_labels_sha256": SHA,
            "hidden_inputs_sha256": None,
            "config_sha256": SHA,
            "program_sha256": None,
            "runtime": {"python": "3.11", "numpy": "2.0", "onnxruntime": "1.32"},
            "sandbox_backend": "none",
        },
        **extra,
    )


def score(submission: Submission, *, public: float, private: float | None = None, ci: Any = None) -> Submission:
    """Apply a finished job to `submission` through the service, as the consumer would."""
    result = submission_record_job_event(event=finished(submission, public=public, private=private, ci=ci))
    assert result is not None
    return result


def started(submission: Submission) -> JobStarted:
    return JobStarted(
        job_id=str(uuid.uuid4()),
        submission_id=submission.pk,
        queue="score-cpu",
        worker="worker-1",
        started_at="2026-12-01T10:00:00+08:00",
    )


def failed(submission: Submission, *, platform: bool) -> JobFailed:
    return JobFailed(
        job_id=str(uuid.uuid4()),
        submission_id=submission.pk,
        reason="The worker was lost." if platform else "predictions.csv has 3 rows; 1,797 were expected.",
        platform_failure=platform,
        log_tail="…",
        code="worker_lost" if platform else "too_few_rows",
    )

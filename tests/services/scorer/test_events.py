"""The scorer's job events match their JSON Schemas, including one built from a real score report."""

from __future__ import annotations

import uuid

import pytest

from hub.events.registry import EventSchemaError, decode, validate
from services.scorer.config import ScoringConfig
from services.scorer.events import JobFailed, JobFinished, JobProgress, JobStarted
from services.scorer.runners import RunContext
from services.scorer.scoring import submission_score

JOB = str(uuid.uuid4())


def roundtrip(event) -> None:
    data = event.to_data()
    validate(event.type_name, data)
    assert decode(event.type_name, data) == event


def test_started_progress_and_failed_events_validate() -> None:
    roundtrip(
        JobStarted(
            job_id=JOB, submission_id=7, queue="score-gpu", worker="gpu-1@host", started_at="2026-11-27T10:00:00Z"
        )
    )
    roundtrip(JobProgress(job_id=JOB, submission_id=7, percent=40, message="predicting"))
    roundtrip(
        JobFailed(
            job_id=JOB,
            submission_id=7,
            reason="The worker died",
            platform_failure=True,
            log_tail="",
            code="worker_lost",
        )
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "scoring.job.started.v1",
            {"job_id": JOB, "submission_id": 1, "queue": "score-tpu", "worker": "w", "started_at": "x"},
        ),
        ("scoring.job.progress.v1", {"job_id": JOB, "submission_id": 1, "percent": 101, "message": ""}),
        ("scoring.job.progress.v1", {"job_id": "not-a-uuid", "submission_id": 1, "percent": 1, "message": ""}),
        ("scoring.job.failed.v1", {"job_id": JOB, "submission_id": 1, "reason": "x", "log_tail": ""}),
    ],
)
def test_bad_events_are_refused(name: str, data: dict) -> None:
    with pytest.raises(EventSchemaError):
        validate(name, data)


def test_a_finished_event_from_a_real_report_validates(digits, hidden, tmp_path) -> None:
    rows = "".join(f"{i},{y}\n" for i, y in zip(digits.ids, digits.y_test, strict=True))
    predictions = tmp_path / "p.csv"
    predictions.write_text("id,prediction\n" + rows, encoding="utf-8")
    config = ScoringConfig(output="label", metrics=("accuracy", "f1_macro"), label_type="int")
    report = submission_score(
        submission=predictions,
        kind="predictions",
        config=config,
        hidden=hidden,
        context=RunContext(work_dir=tmp_path / "j"),
    )
    event = JobFinished.from_report(job_id=JOB, submission_id=3, report=report)
    roundtrip(event)
    assert event.scores["public"]["accuracy"] == 1.0 and event.device == {"kind": "cpu", "id": "cpu"}
    assert event.primary_ci is not None and event.primary_ci["split"] == "public"
    broken = {**event.to_data(), "scores": {"public": {"accuracy": "high"}}}
    with pytest.raises(EventSchemaError):
        validate(event.type_name, broken)

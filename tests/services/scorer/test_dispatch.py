"""Dispatching and running scoring jobs: a received submission becomes one job on its queue, and a real Celery
worker scores it (JobFinished) or fails it with the reason (JobFailed, not retried); queue positions."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy
import pytest
import redis
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from competitions.events import SubmissionReceived
from hub.events.envelope import Envelope
from hub.events.models import OutboxEvent
from hub.events.publish import publish
from services.relay.relay import Relay
from services.scorer.dispatch import job_create
from services.scorer.hidden import hidden_data_name
from services.scorer.models import ScoringJob
from services.scorer.selectors import queue_position
from tests.services.scorer.conftest import Digits, package_files
from tests.support import consumer, wait_for

PHASE = 7
SCORING = {"output": "label", "metrics": ["accuracy", "f1_macro"], "label_type": "int", "leaderboard_split": "public"}
# Short enough for tests: a lost worker is noticed in seconds.
FAST = {
    "GRACE_SECONDS": 5,
    "HEARTBEAT_SECONDS": 0.3,
    "STALE_SECONDS": 3.0,
    "MAX_ATTEMPTS": 3,
    "PROGRESS_EVERY_SECONDS": 0.0,
    "MAX_TIME_LIMIT_SECONDS": 3600,
}


def events(type_name: str, submission_id: int | None = None) -> list[dict[str, Any]]:
    """The data of the outbox's events of a type (of one submission), oldest first."""
    rows = OutboxEvent.objects.filter(type=type_name).order_by("id").values_list("body", flat=True)
    found = [json.loads(body)["data"] for body in rows]
    return [data for data in found if submission_id is None or data["submission_id"] == submission_id]


@pytest.fixture
def scoring(settings, tmp_path: Path, digits: Digits) -> Path:
    """Fast scoring settings, a private storage of the test's own, and phase PHASE's hidden data in it."""
    settings.SCORING = FAST
    settings.PRIVATE_MEDIA_ROOT = root = tmp_path / "private"
    labels = root / hidden_data_name(phase_id=PHASE, role="hidden_labels")
    labels.parent.mkdir(parents=True)
    rows = "".join(f"{i},{y},{s}\n" for i, y, s in zip(digits.ids, digits.y_test, digits.splits, strict=True))
    labels.write_text("id,label,split\n" + rows, encoding="utf-8")
    numpy.savez(root / hidden_data_name(phase_id=PHASE, role="hidden_inputs"), id=digits.ids, x=digits.x_test)
    # Earlier tests' messages (a killed worker's unacknowledged one) must not reach this test's workers.
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete("score-cpu", "score-gpu", "unacked", "unacked_index")
    return root


@pytest.fixture
def worker(start_process, scoring: Path) -> Callable[[str], subprocess.Popen]:
    """Start a real CPU scoring worker named `name@test` (solo pool: the job runs in the process itself)."""

    def start(name: str) -> subprocess.Popen:
        env = {f"SCORING_{key}": str(value) for key, value in FAST.items()}
        return start_process(
            *(sys.executable, "-m", "celery", "-A", "hub", "worker", "--pool", "solo", "--queues", "score-cpu"),
            *("--hostname", f"{name}@test", "--without-heartbeat", "--without-mingle", "--without-gossip"),
            env={**env, "PRIVATE_MEDIA_ROOT": str(scoring)},
            manage=False,
        )

    return start


_ids = iter(range(1000, 1_000_000))


def received(storage: Path, *, kind: str, content: bytes, suffix: str, **fields: Any) -> dict[str, Any]:
    """A received submission's event data, its file stored in `storage`, as competitions publishes it."""
    submission_id = next(_ids)
    name = f"competitions/submissions/{uuid.uuid4().hex}{suffix}"
    (storage / name).parent.mkdir(parents=True, exist_ok=True)
    (storage / name).write_bytes(content)
    data = {
        "submission_id": submission_id,
        "phase_id": PHASE,
        "competition_id": 1,
        "team_id": 1,
        "kind": kind,
        "file": name,
        "sha256": "0" * 64,
        "size": len(content),
        "resources": "cpu",
        "time_limit_seconds": 60,
        "memory_limit_bytes": 1536 * 1024 * 1024,
        "scoring_config": SCORING,
        "created_at": timezone.now().isoformat(),
        "scoring_round": 1,
        **fields,
    }
    return SubmissionReceived(**data).to_data()  # checks the fields are the event's


def predictions(digits: Digits, *, header: str = "id,prediction") -> bytes:
    return (header + "\n" + "".join(f"{i},{y}\n" for i, y in zip(digits.ids, digits.y_test, strict=True))).encode()


def package(predict_body: str, *, preamble: str = "") -> bytes:
    """A zipped code package whose predict(x) has this (indented) body."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in package_files(predict_body, preamble=preamble).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def as_message(data: dict[str, Any]) -> str:
    return Envelope(
        id=str(uuid.uuid4()),
        source="urn:wanzhi/competitions",
        type=SubmissionReceived.type_name,
        time=timezone.now().isoformat(),
        subject=str(data["submission_id"]),
        data=data,
    ).to_json()


def test_a_received_event_becomes_exactly_one_job_even_when_delivered_twice(scoring, kafka, run_in_thread, digits):
    data = received(scoring, kind="predictions", content=predictions(digits), suffix=".csv", resources="gpu")
    with transaction.atomic():
        publish(SubmissionReceived(**data), key=data["submission_id"])
    run_in_thread(Relay().run)
    run_in_thread(consumer("scorer").run)
    job = wait_for(lambda: ScoringJob.objects.filter(submission_id=data["submission_id"]).first())
    assert (job.queue, job.status, job.phase_id, job.payload) == ("score-gpu", "queued", PHASE, data)
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    wait_for(lambda: broker.llen("score-gpu"), timeout=10)  # sent once the dispatcher's transaction committed

    dispatcher = consumer("scorer")
    message = as_message(data)
    assert dispatcher.apply(message).value == "applied"  # the same submission in another event: no new job
    assert dispatcher.apply(message).value == "duplicate"  # the same event again: the inbox skips it
    assert ScoringJob.objects.filter(submission_id=data["submission_id"]).count() == 1
    [announced] = events("scoring.job.queued.v1")
    assert announced == {
        "job_id": str(job.pk),
        "submission_id": data["submission_id"],
        "queue": "score-gpu",
        "position": 1,
        "queue_length": 1,
    }
    # The task went to the GPU queue only, once (no GPU worker runs here to take it).
    assert (broker.llen("score-gpu"), broker.llen("score-cpu")) == (1, 0)
    task = json.loads(broker.lindex("score-gpu", 0))
    assert task["headers"]["task"] == "services.scorer.tasks.score" and task["headers"]["argsrepr"] == f"['{job.pk}']"
    assert task["headers"]["timelimit"] == [60 + 2 * FAST["GRACE_SECONDS"], 60 + FAST["GRACE_SECONDS"]]


def test_a_real_worker_scores_predictions_and_a_model_and_fails_a_bad_file_without_retrying(
    scoring, worker, digits, transactional_db
):
    worker("w1")
    good = received(scoring, kind="predictions", content=predictions(digits), suffix=".csv")
    model = received(scoring, kind="onnx", content=digits.model, suffix=".onnx")
    bad = received(scoring, kind="predictions", content=predictions(digits, header="id,guess"), suffix=".csv")
    for data in (good, model, bad):
        job_create(received=data)

    ended = lambda: ScoringJob.objects.filter(status__in=["finished", "failed"]).count() == 3  # noqa: E731
    wait_for(ended, timeout=90)
    jobs = {job.submission_id: job for job in ScoringJob.objects.all()}
    assert [jobs[d["submission_id"]].status for d in (good, model, bad)] == ["finished", "finished", "failed"]
    assert all(job.attempts == 1 and job.worker == "w1@test" for job in jobs.values())

    [perfect] = events("scoring.job.finished.v1", good["submission_id"])
    assert perfect["scores"]["public"]["accuracy"] == 1.0 and perfect["scores"]["private"]["accuracy"] == 1.0
    assert perfect["job_id"] == str(jobs[good["submission_id"]].pk) and perfect["device"]["kind"] == "cpu"
    [onnx] = events("scoring.job.finished.v1", model["submission_id"])
    assert 0.9 < onnx["scores"]["public"]["accuracy"] < 1.0
    assert onnx["primary_ci"]["low"] <= onnx["scores"]["public"]["accuracy"] <= onnx["primary_ci"]["high"]
    percents = [progress["percent"] for progress in events("scoring.job.progress.v1", model["submission_id"])]
    assert percents == sorted(set(percents)) and percents[0] == 0 and percents[-1] == 100

    [failure] = events("scoring.job.failed.v1", bad["submission_id"])
    assert failure["platform_failure"] is False and failure["code"] != "scorer_error"
    assert "prediction" in failure["reason"]  # names the column it wanted
    assert events("scoring.job.finished.v1", bad["submission_id"]) == []
    for data in (good, model, bad):
        [start] = events("scoring.job.started.v1", data["submission_id"])
        assert start["worker"] == "w1@test" and start["queue"] == "score-cpu"
    # Not retried: nothing waits on the queue, and no second start came.
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    assert broker.llen("score-cpu") == 0
    assert len(events("scoring.job.started.v1")) == 3


def test_a_dispatch_that_rolls_back_leaves_no_job_and_sends_no_task(scoring, transactional_db):
    data = received(scoring, kind="predictions", content=b"", suffix=".csv")
    with pytest.raises(RuntimeError), transaction.atomic():
        job_create(received=data)
        raise RuntimeError("the consumer's transaction failed after the handler")
    assert not ScoringJob.objects.exists() and events("scoring.job.queued.v1") == []
    assert redis.Redis.from_url(django_settings.CELERY_BROKER_URL).llen("score-cpu") == 0
    job_create(received=data)  # the redelivery dispatches it
    assert redis.Redis.from_url(django_settings.CELERY_BROKER_URL).llen("score-cpu") == 1


def test_queue_position_counts_the_queued_jobs_of_its_queue_in_order(scoring, transactional_db, settings):
    cpu = [job_create(received=received(scoring, kind="predictions", content=b"", suffix=".csv")) for _ in range(3)]
    gpu = job_create(received=received(scoring, kind="onnx", content=b"", suffix=".onnx", resources="gpu"))
    assert [queue_position(submission_id=job.submission_id).position for job in cpu] == [1, 2, 3]
    assert queue_position(submission_id=gpu.submission_id).position == 1
    assert {queue_position(submission_id=job.submission_id).queue_length for job in cpu} == {3}
    assert [event["position"] for event in events("scoring.job.queued.v1")] == [1, 2, 3, 1]
    assert queue_position(submission_id=999_999_999) is None

    # The first starts: it leaves the line, the others move up. No finished job yet: no estimate.
    now = timezone.now()
    ScoringJob.objects.filter(pk=cpu[0].pk).update(
        status="running", worker="w1", attempts=1, started_at=now, heartbeat_at=now, deadline_at=now
    )
    first, second = (queue_position(submission_id=job.submission_id) for job in cpu[:2])
    assert (first.status, first.position, first.estimated_start) == ("running", None, None)
    assert (second.position, second.queue_length, second.workers, second.estimated_start) == (1, 2, 1, None)

    # Two recent jobs on two workers took 10 s and 30 s: median 20 s; with two workers, the job in second
    # place starts within one round of 20 s, as does the first.
    for seconds, name in ((10, "w1"), (30, "w2")):
        done = job_create(received=received(scoring, kind="predictions", content=b"", suffix=".csv"))
        ScoringJob.objects.filter(pk=done.pk).update(
            status="finished", worker=name, started_at=now, finished_at=now + timedelta(seconds=seconds)
        )
    place = queue_position(submission_id=cpu[2].submission_id)
    assert (place.position, place.workers, place.median_wall_seconds) == (2, 2, 20.0)
    assert 19 <= (place.estimated_start - timezone.now()).total_seconds() <= 20

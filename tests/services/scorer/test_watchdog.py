"""The watchdog leaves no job running: a job whose worker was killed is retried on another worker and scored
once; a job past its deadline, or lost too often, fails as a platform failure (the entrant keeps the slot)."""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from hub.events.models import OutboxEvent
from services.scorer.dispatch import job_create
from services.scorer.jobs import job_run
from services.scorer.models import ScoringJob
from services.scorer.watchdog import jobs_watch
from tests.competitions.factories import SubmissionFactory
from tests.services.scorer.conftest import sandbox_processes
from tests.services.scorer.test_dispatch import FAST, events, package, predictions, received, scoring, worker
from tests.support import consumer, wait_for

__all__ = ["scoring", "worker"]  # fixtures shared with test_dispatch


def running(job: ScoringJob, **fields) -> ScoringJob:
    """Mark `job` as a worker would have when it took it; `fields` override (e.g. a stale heartbeat)."""
    now = timezone.now()
    values = {
        "status": "running",
        "attempts": 1,
        "worker": "w1@test",
        "started_at": now,
        "heartbeat_at": now,
        "deadline_at": now + timedelta(seconds=60),
        **fields,
    }
    ScoringJob.objects.filter(pk=job.pk).update(**values)
    return ScoringJob.objects.get(pk=job.pk)


def test_a_worker_killed_mid_job_is_replaced_and_the_job_is_scored_once(scoring, worker, digits):
    workers = {"w1": worker("w1"), "w2": worker("w2")}
    slow = package("    time.sleep(3)\n    return np.zeros(len(x), dtype=int)", preamble="import time")
    job = job_create(received=received(scoring, kind="package", content=slow, suffix=".zip"))
    taken = wait_for(lambda: ScoringJob.objects.filter(pk=job.pk, status="running").first(), timeout=60)
    first = taken.worker.removesuffix("@test")
    second = "w2" if first == "w1" else "w1"
    time.sleep(1)  # into the sandboxed run
    workers[first].send_signal(signal.SIGKILL)
    assert workers[first].wait(10) == -signal.SIGKILL

    # The beat task runs the watchdog every 15 s; here the test calls it until the silence is noticed.
    wait_for(lambda: jobs_watch().requeued, timeout=20, every=0.5)
    done = wait_for(lambda: ScoringJob.objects.filter(pk=job.pk, status__in=["finished", "failed"]).first(), timeout=60)
    assert (done.status, done.worker, done.attempts) == ("finished", f"{second}@test", 2)
    [finished] = events("scoring.job.finished.v1")
    assert finished["job_id"] == str(job.pk) and finished["scores"]["public"]["accuracy"] > 0
    assert [start["worker"] for start in events("scoring.job.started.v1")] == [f"{first}@test", f"{second}@test"]
    assert [queued["position"] for queued in events("scoring.job.queued.v1")] == [1, 1]  # requeued at the front
    assert events("scoring.job.failed.v1") == []
    assert sandbox_processes() == []  # the killed worker's sandbox died with it
    assert workers[second].poll() is None


def test_a_worker_whose_job_was_taken_from_it_discards_its_result(scoring, run_in_thread, digits):
    slow = package("    time.sleep(2)\n    return np.zeros(len(x), dtype=int)", preamble="import time")
    job = job_create(received=received(scoring, kind="package", content=slow, suffix=".zip"))
    outcome: list[str] = []
    run_in_thread(lambda stop: outcome.append(job_run(job_id=str(job.pk), worker="w1@test")))
    wait_for(lambda: ScoringJob.objects.filter(pk=job.pk, status="running").exists())
    # Presumed lost (say, cut off from the database for a while): requeued, and another worker took it.
    ScoringJob.objects.filter(pk=job.pk).update(worker="w2@test", attempts=2)

    wait_for(lambda: outcome, timeout=60)
    assert outcome == ["skipped"]
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == ("running", "w2@test", 2)
    assert events("scoring.job.finished.v1") == [] and events("scoring.job.failed.v1") == []


@pytest.mark.django_db
def test_a_job_past_its_deadline_fails_as_a_platform_failure_and_the_entrant_keeps_the_slot(scoring, digits):
    submission = SubmissionFactory()
    data = received(scoring, kind="predictions", content=predictions(digits), suffix=".csv")
    job = job_create(received={**data, "submission_id": submission.pk})
    # Its worker is alive (fresh heartbeat) but the job overran: stuck after the sandbox, say.
    running(job, deadline_at=timezone.now() - timedelta(seconds=1))

    report = jobs_watch()
    assert (report.requeued, report.failed) == ([], [str(job.pk)])
    job.refresh_from_db()
    assert (job.status, job.failure_code) == ("failed", "overran")
    [failed] = events("scoring.job.failed.v1")
    assert failed["code"] == "overran" and failed["platform_failure"] is True and failed["reason"]
    assert jobs_watch().failed == []  # ended once

    body = OutboxEvent.objects.get(type="scoring.job.failed.v1").body
    assert consumer("competitions").apply(body).value == "applied"
    submission.refresh_from_db()
    assert (submission.status, submission.failure_code, submission.platform_failure) == ("failed", "overran", True)
    assert submission.counts_against_quota is False


@pytest.mark.django_db
def test_a_silent_job_is_requeued_while_attempts_are_left_then_failed_as_worker_lost(scoring, digits):
    data = received(scoring, kind="predictions", content=predictions(digits), suffix=".csv")
    job = job_create(received=data)
    stale = timezone.now() - timedelta(seconds=FAST["STALE_SECONDS"] + 1)
    fresh = job_create(received=received(scoring, kind="predictions", content=predictions(digits), suffix=".csv"))
    running(fresh, worker="w2@test")  # beating: left alone

    running(job, heartbeat_at=stale)
    assert jobs_watch().requeued == [str(job.pk)]
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts, job.heartbeat_at, job.deadline_at) == ("queued", "", 1, None, None)
    assert events("scoring.job.queued.v1", data["submission_id"])[-1]["position"] == 1

    running(job, attempts=FAST["MAX_ATTEMPTS"], heartbeat_at=stale)
    assert jobs_watch().failed == [str(job.pk)]
    job.refresh_from_db()
    assert (job.status, job.failure_code) == ("failed", "worker_lost")
    [failed] = events("scoring.job.failed.v1")
    assert failed["platform_failure"] is True and failed["submission_id"] == data["submission_id"]
    assert ScoringJob.objects.get(pk=fresh.pk).status == "running"
    assert json.loads(OutboxEvent.objects.filter(type="scoring.job.failed.v1").get().body)["subject"] == str(
        data["submission_id"]
    )

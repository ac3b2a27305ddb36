"""Hosts rescore a submission or a whole phase: a new scoring round, the earlier job's events ignored."""

from __future__ import annotations

import dataclasses

import pytest
from django.utils import timezone

from competitions.models import AuditEntry, LeaderboardEntry, Phase, Submission
from competitions.services import (
    NotPermitted,
    SubmissionRefused,
    phase_close,
    phase_rescore,
    submission_create,
    submission_record_job_event,
    submission_rescore,
)
from services.scorer.dispatch import job_create
from services.scorer.models import ScoringJob
from tests.competitions.support import failed, finished, predictions, published, started
from tests.factories import UserFactory


@pytest.fixture
def scored(phase, team, entrant) -> Submission:
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    submission_record_job_event(event=finished(submission, public=0.5, private=0.4))
    return Submission.objects.get(pk=submission.pk)


def test_a_rescored_submission_starts_a_new_round_and_leaves_the_leaderboard_until_scored(scored, host):
    old_job = scored.job_id
    assert LeaderboardEntry.objects.filter(submission=scored).exists()
    submission_rescore(submission=scored, by=host, reason="标签文件已更正")
    scored.refresh_from_db()
    assert (scored.status, scored.scoring_round, scored.scores, scored.public_score) == ("received", 2, {}, None)
    assert scored.retired_job_ids == [old_job]
    assert not LeaderboardEntry.objects.filter(team=scored.team).exists()
    rounds = [event["scoring_round"] for event in published("competitions.submission.received.v1")]
    assert rounds == [1, 2]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SUBMISSION_RESCORED)
    assert (entry.actor, entry.reason, entry.details["before"]["status"]) == (host, "标签文件已更正", "scored")

    # A late duplicate of the first round's result changes nothing; the new round's job is applied.
    late = dataclasses.replace(finished(scored, public=0.5), job_id=old_job)
    submission_record_job_event(event=late)
    assert Submission.objects.get(pk=scored.pk).status == "received"
    submission_record_job_event(event=started(scored))
    submission_record_job_event(event=finished(scored, public=0.9))
    scored.refresh_from_db()
    assert (scored.status, scored.public_score) == ("scored", 0.9)
    assert LeaderboardEntry.objects.get(team=scored.team, split="public").score == 0.9


def test_the_scorer_makes_one_job_per_round(scored, host):
    [first] = published("competitions.submission.received.v1")
    job_create(received=first)
    job_create(received=first)  # redelivered: the same round, no second job
    submission_rescore(submission=scored, by=host, reason="rescore")
    second = published("competitions.submission.received.v1")[1]
    job_create(received=second)
    rounds = ScoringJob.objects.filter(submission_id=scored.pk).order_by("scoring_round")
    assert [job.scoring_round for job in rounds] == [1, 2]


def test_a_whole_phase_is_rescored_but_runs_in_flight_are_left_alone(phase, team, entrant, host, scored):
    failing = submission_create(phase=phase, team=team, upload=predictions(shift=1), kind="predictions", by=entrant)
    submission_record_job_event(event=failed(failing, platform=False))
    assert phase_rescore(phase=phase, by=host, reason="新的评分配置") == 2
    assert set(Submission.objects.values_list("status", "scoring_round")) == {("received", 2)}


def test_only_hosts_rescore_and_only_finished_submissions_of_open_phases(phase, team, entrant, host, scored):
    with pytest.raises(NotPermitted):
        submission_rescore(submission=scored, by=UserFactory(), reason="why")
    with pytest.raises(NotPermitted):
        submission_rescore(submission=scored, by=entrant, reason="why")
    with pytest.raises(SubmissionRefused) as refused:
        submission_rescore(submission=scored, by=host, reason="  ")
    assert refused.value.code == "reason_missing"
    waiting = submission_create(phase=phase, team=team, upload=predictions(shift=2), kind="predictions", by=entrant)
    with pytest.raises(SubmissionRefused) as refused:
        submission_rescore(submission=waiting, by=host, reason="why")
    assert refused.value.code == "not_rescorable"
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now())
    phase_close(phase=phase, by=host)
    with pytest.raises(SubmissionRefused) as refused:
        submission_rescore(submission=scored, by=host, reason="why")
    assert refused.value.code == "phase_closed"
    assert Submission.objects.get(pk=scored.pk).scoring_round == 1

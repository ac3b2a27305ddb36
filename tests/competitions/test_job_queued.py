"""The scorer's JobQueued moves a received submission to queued, through the competitions consumer, and
nothing else: no other field, and never a submission that is already further along."""

import uuid

import pytest
from django.utils import timezone

from competitions.models import Submission
from hub.events.envelope import Envelope
from services.scorer.events import JobQueued
from tests.competitions.factories import SubmissionFactory
from tests.competitions.support import failed, started
from tests.support import consumer

pytestmark = pytest.mark.django_db


def queued(submission: Submission) -> JobQueued:
    return JobQueued(
        job_id=str(uuid.uuid4()), submission_id=submission.pk, queue="score-cpu", position=3, queue_length=5
    )


def apply(event) -> str:
    """Through the competitions consumer, as if read from Kafka; a redelivery changes nothing."""
    raw = Envelope(
        id=str(uuid.uuid4()),
        source="urn:wanzhi/scoring",
        type=event.type_name,
        time=timezone.now().isoformat(),
        subject=str(event.submission_id),
        data=event.to_data(),
    ).to_json()
    runtime = consumer("competitions")
    outcome = runtime.apply(raw)
    assert runtime.apply(raw).value == "duplicate"
    return outcome.value


def test_a_queued_job_moves_a_received_submission_to_queued_and_nothing_else(phase, team):
    submission = SubmissionFactory(phase=phase, team=team)
    before = Submission.objects.values().get(pk=submission.pk)
    event = queued(submission)
    assert apply(event) == "applied"
    after = Submission.objects.values().get(pk=submission.pk)
    assert after.pop("status") == "queued" and before.pop("status") == "received"
    assert after.pop("job_id") == event.job_id and before.pop("job_id") == ""  # what a rescore would retire
    assert after == before


@pytest.mark.parametrize(("earlier", "status"), [(started, "running"), (lambda s: failed(s, platform=False), "failed")])
def test_a_late_queued_job_never_moves_a_submission_back(phase, team, earlier, status):
    submission = SubmissionFactory(phase=phase, team=team)
    apply(earlier(submission))
    apply(queued(submission))  # e.g. the watchdog requeued it after its worker was lost
    assert Submission.objects.get(pk=submission.pk).status == status

"""The event contract: what competitions publishes validates against its schemas and never names the
hidden data, and the scorer's job events move submissions (through the consumer, once each)."""

import datetime
import json
import uuid
from pathlib import Path

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator

from competitions.models import DataFile, Phase, QuotaDay
from competitions.services import competition_update, phase_close, submission_create, submission_record_job_event
from hub.events.envelope import Envelope
from hub.events.registry import validate
from tests.competitions.factories import SubmissionFactory, TeamFactory
from tests.competitions.support import failed, finished, predictions, published, score, started
from tests.factories import OrganisationFactory
from tests.support import consumer

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[2] / "competitions" / "schemas"
TYPES = [
    "competitions.competition.published.v1",
    "competitions.competition.updated.v1",
    "competitions.submission.received.v1",
    "competitions.leaderboard.updated.v1",
    "competitions.phase.closed.v1",
]


@pytest.mark.parametrize("type_name", TYPES)
def test_every_type_has_a_valid_schema_that_names_every_field_required(type_name):
    schema = json.loads((SCHEMAS / f"{type_name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])


def test_the_received_event_carries_what_the_scorer_needs_but_never_the_hidden_data(phase, team, entrant):
    labels = DataFile.objects.get(phase=phase, role="hidden_labels")  # PhaseFactory stores them
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    [event] = published("competitions.submission.received.v1")
    validate("competitions.submission.received.v1", event)
    assert event["phase_id"] == phase.pk and event["sha256"] == submission.sha256
    assert event["resources"] == "cpu" and event["scoring_config"]["metrics"] == ["accuracy", "f1_macro"]
    text = json.dumps(event, ensure_ascii=False)
    for secret in (labels.file.name, labels.file.path, "labels.csv", "hidden"):
        assert secret not in text


def apply(event) -> str:
    """Apply a scorer event through the competitions consumer, as if read from Kafka."""
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="urn:wanzhi/scoring",
        type=event.type_name,
        time=timezone.now().isoformat(),
        subject=str(event.submission_id),
        data=event.to_data(),
    )
    runtime = consumer("competitions")
    raw = envelope.to_json()
    outcome = runtime.apply(raw)
    assert runtime.apply(raw).value == "duplicate"  # a redelivery changes nothing
    return outcome.value


def test_job_events_move_a_submission_forward_to_scored(phase, team):
    submission = SubmissionFactory(phase=phase, team=team)
    assert apply(started(submission)) == "applied"
    submission.refresh_from_db()
    assert submission.status == "running" and submission.started_at
    apply(finished(submission, public=0.91, private=0.88, ci=(0.89, 0.93)))
    submission.refresh_from_db()
    assert (submission.status, submission.public_score, submission.private_score) == ("scored", 0.91, 0.88)
    assert submission.primary_ci["low"] == 0.89 and submission.compute["device_kind"] == "cpu"
    assert submission.compute["wall_seconds"] == 1.5
    # A late start (a retried worker's) does not move it back.
    apply(started(submission))
    submission.refresh_from_db()
    assert submission.status == "scored"
    [board] = published("competitions.leaderboard.updated.v1")
    validate("competitions.leaderboard.updated.v1", board)
    assert board["split"] == "public" and board["top"][0]["score"] == 0.91  # never the private split before close


def test_a_platform_failure_gives_the_slot_back_and_an_entrant_s_failure_does_not(phase, team, entrant):
    lost = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    bad = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert QuotaDay.objects.get().used == 2
    apply(failed(lost, platform=True))
    apply(failed(bad, platform=False))
    assert QuotaDay.objects.get().used == 1
    lost.refresh_from_db()
    bad.refresh_from_db()
    assert (lost.status, lost.platform_failure, lost.counts_against_quota) == ("failed", True, False)
    assert (bad.status, bad.failure_code, bad.counts_against_quota) == ("failed", "too_few_rows", True)
    assert "1,797" in bad.failure_reason
    # A repeated failure (another job of the same submission) gives nothing back twice.
    submission_record_job_event(event=failed(lost, platform=True))
    assert QuotaDay.objects.get().used == 1
    submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)


def test_a_job_event_for_an_unknown_submission_is_ignored():
    assert submission_record_job_event(event=failed(SubmissionFactory.build(pk=987654), platform=True)) is None


def test_closing_publishes_the_final_ranking_with_organisations(host, phase):
    startup = OrganisationFactory(name="星火智能")
    teams = [
        TeamFactory(competition=phase.competition, organisation=startup),
        TeamFactory(competition=phase.competition),
    ]
    for team, private in zip(teams, (0.7, 0.8), strict=True):
        score(SubmissionFactory(phase=phase, team=team), public=0.9, private=private)
    assert [e["split"] for e in published("competitions.leaderboard.updated.v1")] == ["public", "public"]
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=1))
    phase_close(phase=phase, by=host)
    [closed] = published("competitions.phase.closed.v1")
    validate("competitions.phase.closed.v1", closed)
    assert closed["teams"] == 2
    assert [(r["rank"], r["team_id"], r["organisation_id"], r["organisation_name"]) for r in closed["ranking"]] == [
        (1, teams[1].pk, None, None),
        (2, teams[0].pk, startup.pk, "星火智能"),
    ]
    assert published("competitions.leaderboard.updated.v1")[-1]["split"] == "private"


def test_a_published_competition_event_validates(host, competition):
    competition_update(competition=competition, by=host, fields={"title_en": "Digits"})
    [event] = published("competitions.competition.updated.v1")
    validate("competitions.competition.updated.v1", event)
    assert event["title_en"] == "Digits" and event["starts_at"] is None

"""No URL, API field, log or event exposes a phase's hidden labels or where they lie: a submission is
scored through a real scoring job while every log record is captured, then everything an entrant, a
third party or a consumer can read is searched for the labels' path and content."""

from __future__ import annotations

import json
import logging

from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from competitions.services import submission_create, submission_record_job_event
from hub.events.models import OutboxEvent
from hub.events.registry import decode
from services.scorer.hidden import hidden_data_for
from services.scorer.jobs import job_run
from services.scorer.models import ScoringJob
from tests.competitions.factories import CompetitionFactory, PhaseFactory, TeamFactory
from tests.competitions.support import predictions, published
from tests.factories import UserFactory


def test_scoring_a_submission_leaves_no_trace_of_the_hidden_labels(transactional_db, settings, tmp_path, host, caplog):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    caplog.set_level(logging.DEBUG)
    competition = CompetitionFactory(host=host.memberships.get().organisation)
    phase = PhaseFactory(competition=competition, accepted_kinds=["predictions"])
    entrant = UserFactory()
    team = TeamFactory(competition=competition, members=[entrant])
    labels = hidden_data_for(phase_id=phase.pk).labels
    secrets = [str(labels), str(labels.parent), f"hidden/{phase.pk}", labels.read_text().splitlines()[1]]

    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    [received] = published("competitions.submission.received.v1")
    job = ScoringJob.objects.create(submission_id=submission.pk, phase_id=phase.pk, queue="score-cpu", payload=received)
    assert job_run(job_id=str(job.pk), worker="test") == "finished"
    for type_name in ("scoring.job.started.v1", "scoring.job.finished.v1"):
        for data in published(type_name):
            submission_record_job_event(event=decode(type_name, data))
    submission.refresh_from_db()
    assert submission.status == "scored"

    readable = [record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records]
    readable += [body for body in OutboxEvent.objects.values_list("body", flat=True)]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=entrant).key}")
    base = f"/api/v1/competitions/{competition.slug}"
    for path in (
        "/",
        "/phases/",
        "/submissions/",
        f"/submissions/{submission.pk}/",
        f"/submissions/{submission.pk}/status/",
        "/leaderboard/",
    ):
        response = api.get(base + path)
        assert response.status_code == 200, path
        readable.append(response.content.decode())
    page = Client()
    page.force_login(entrant)
    for path in ("", "data/", "submissions/", f"submissions/{submission.pk}/", "leaderboard/"):
        response = page.get(f"/en/competitions/{competition.slug}/{path}")
        assert response.status_code == 200, path
        readable.append(response.content.decode())
    text = "\n".join(readable)
    assert "scoring.job.finished.v1" in text and submission.sha256 in text  # the search looked at real material
    for secret in secrets:
        assert secret not in text, secret

"""The demo competition `make run` loads: a real digits task a new user can submit to at once."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from competitions import demo
from competitions.models import Competition, DataFile, Submission, TeamMembership
from competitions.services import submission_create
from hub.accounts import demo as accounts_demo
from hub.accounts.models import User
from services.scorer.hidden import hidden_data_for


def test_the_digits_demo_is_ready_to_take_submissions_and_loads_once(db):
    list(accounts_demo.load())
    list(demo.load())
    competition = Competition.objects.get(slug=demo.SLUG)
    assert competition.status == Competition.Status.RUNNING and competition.published_at is not None
    phase = competition.phases.get()
    assert phase.is_open()
    hidden = hidden_data_for(phase_id=phase.pk)
    assert len(hidden.labels.read_text().splitlines()) == 1797 - demo.TRAIN_ROWS + 1 and hidden.inputs is not None
    training = {f.original_name: f for f in DataFile.objects.filter(phase=phase, role=DataFile.Role.TRAINING)}
    assert set(training) == {"train.csv", "test_inputs.csv", "baseline_predictions.csv", "baseline_model.onnx"}
    assert "label" not in training["test_inputs.csv"].file.open("rb").readline().decode()
    baseline = phase.baselines.get()
    assert 0.9 < baseline.scores["public"]["accuracy"] <= 1 and "private" in baseline.scores

    entrant = User.objects.get(username="entrant")
    team = TeamMembership.objects.get(competition=competition, user=entrant).team
    with training["baseline_predictions.csv"].file.open("rb") as file:
        upload = SimpleUploadedFile("baseline_predictions.csv", file.read())
    submission = submission_create(phase=phase, team=team, upload=upload, kind="predictions", by=entrant)
    assert submission.status == Submission.Status.RECEIVED

    again = list(demo.load())
    assert "already loaded" in again[0]
    assert Competition.objects.filter(slug=demo.SLUG).count() == 1

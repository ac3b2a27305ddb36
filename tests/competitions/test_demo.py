"""The demo competition `make run` loads: a real digits task a new user can submit to at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from django.core.files.uploadedfile import SimpleUploadedFile

from competitions import demo, digits
from competitions.models import Competition, DataFile, Submission, TeamMembership
from competitions.services import submission_create
from hub.accounts import demo as accounts_demo
from hub.accounts.models import User
from services.scorer.hidden import hidden_data_for

ROOT = Path(__file__).resolve().parents[2]


def test_the_digits_demo_is_ready_to_take_submissions_and_loads_once(db):
    list(accounts_demo.load())
    list(demo.load())
    competition = Competition.objects.get(slug=demo.SLUG)
    assert competition.status == Competition.Status.RUNNING and competition.published_at is not None
    phase = competition.phases.get()
    assert phase.is_open()
    hidden = hidden_data_for(phase_id=phase.pk)
    assert len(hidden.labels.read_text().splitlines()) == 1797 - digits.TRAIN_ROWS + 1 and hidden.inputs is not None
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


def test_the_digits_are_scikit_learns_without_importing_it():
    # Importing scikit-learn costs load_demo seconds: the demo reads its data file instead.
    probe = "import sys; from competitions.digits import digits_task; digits_task(); print('sklearn' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT).stdout
        == "False\n"
    )

    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    task = digits.digits_task()
    assert np.array_equal(np.concatenate([task.x_train, task.x_test]), x.astype(np.float32))
    assert np.array_equal(np.concatenate([task.y_train, task.y_test]), y)


def test_the_shipped_baseline_is_what_the_script_makes_and_its_model_predicts_its_predictions():
    task = digits.digits_task()
    _, predicted = digits.baseline_model(task)  # trains again, as `python -m competitions.digits` does
    shipped = digits.BASELINE_PREDICTIONS.read_bytes()
    assert shipped == task.predictions_csv(predicted)

    model = onnxruntime.InferenceSession(digits.BASELINE_MODEL.read_bytes(), providers=["CPUExecutionProvider"])
    labels, _probabilities = model.run(None, {model.get_inputs()[0].name: task.x_test})
    assert task.predictions_csv(labels) == shipped

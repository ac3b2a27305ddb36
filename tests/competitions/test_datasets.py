"""A phase's hidden data as hosts upload it, and predictions files checked at upload as scoring would."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from competitions.datasets import DatasetInvalid, labels_check
from competitions.models import AuditEntry, DataFile, Submission
from competitions.services import (
    DataRefused,
    NotPermitted,
    SubmissionRefused,
    phase_hidden_data_upload,
    submission_create,
)
from services.scorer.config import ScoringConfig
from services.scorer.hidden import hidden_data_for
from tests.competitions.factories import PhaseFactory
from tests.competitions.support import predictions
from tests.factories import UserFactory

CONFIG = ScoringConfig(
    output="label", metrics=("accuracy",), label_type="int", classes=tuple(str(i) for i in range(10))
)


def upload(text: str | bytes, name: str = "labels.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text)


def npz(ids: list[str], x: np.ndarray | None = None) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.savez(buffer, id=np.array(ids), x=np.ones((len(ids), 3), dtype=np.float32) if x is None else x)
    return SimpleUploadedFile("inputs.npz", buffer.getvalue())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "empty"),
        ("id,answer\n1,2\n", "Line 1: the columns must be id,label"),
        ("id,label\n", "no rows"),
        ("id,label\n1,2\n1,3\n", "Line 3: id 1 already appears on line 2"),
        ("id,label\n1,2,3\n", "Line 2: 3 values for 2 columns"),
        ("id,label\n,2\n", "Line 2: the id is empty"),
        ("id,label\n1,two\n", "Line 2: the label two is not a whole number"),
        ("id,label\n1,12\n", "Line 2: the label 12 is not one of the classes"),
        ("id,label,split\n1,2,train\n", "Line 2: the split must be public or private"),
        (b"id,label\n1,2\n2,\xff\n", "Line 3 is not UTF-8"),
    ],
)
def test_bad_labels_are_refused_with_the_line_to_fix(text, message):
    with pytest.raises(DatasetInvalid) as refused:
        labels_check(
            data=text if isinstance(text, bytes) else text.encode(), config=CONFIG, seed=1, public_fraction=0.5
        )
    assert message in refused.value.errors[0]


def test_labels_without_a_split_are_split_by_id_the_same_way_every_time():
    text = ("id,label\n" + "".join(f"r{i},{i % 10}\n" for i in range(1000))).encode()
    first = labels_check(data=text, config=CONFIG, seed=7, public_fraction=0.3)
    again = labels_check(data=text, config=CONFIG, seed=7, public_fraction=0.3)
    other_seed = labels_check(data=text, config=CONFIG, seed=8, public_fraction=0.3)
    assert first.rows == again.rows
    assert 250 < first.counts["public"] < 350 and first.counts["public"] + first.counts["private"] == 1000
    assert [row[2] for row in first.rows] != [row[2] for row in other_seed.rows]


def test_a_host_replaces_the_hidden_data_and_the_scorer_finds_it_by_phase(phase, host):
    labels = "id,label\n" + "".join(f"x{i},{i % 10}\n" for i in range(20))
    ids = [f"x{i}" for i in range(20)]
    stored = phase_hidden_data_upload(phase=phase, by=host, labels=upload(labels), inputs=npz(ids))
    assert sorted(f.role for f in stored) == ["hidden_inputs", "hidden_labels"]
    assert DataFile.objects.filter(phase=phase, role__in=DataFile.HIDDEN).count() == 2
    hidden = hidden_data_for(phase_id=phase.pk)
    written = hidden.labels.read_text().splitlines()
    assert written[0] == "id,label,split" and len(written) == 21
    assert {line.rsplit(",", 1)[1] for line in written[1:]} == {"public", "private"}
    assert np.load(hidden.inputs)["id"].tolist() == ids
    entry = AuditEntry.objects.get(action=AuditEntry.Action.HIDDEN_DATA_REPLACED)
    assert entry.actor == host and entry.details["rows"] == 20


def test_refused_hidden_data_leaves_the_earlier_set_in_place(phase, host):
    before = hidden_data_for(phase_id=phase.pk).labels.read_bytes()
    with pytest.raises(DataRefused) as refused:
        phase_hidden_data_upload(phase=phase, by=host, labels=upload("id,label\n1,1\n1,2\n"))
    assert "Line 3" in refused.value.errors["labels"][0]
    good = "id,label,split\n1,1,public\n2,2,private\n"
    with pytest.raises(DataRefused) as refused:
        phase_hidden_data_upload(phase=phase, by=host, labels=upload(good), inputs=npz(["1", "9"]))
    assert "inputs" in refused.value.errors
    with pytest.raises(DataRefused) as refused:
        phase_hidden_data_upload(phase=phase, by=host, labels=upload(good))
    assert refused.value.code == "inputs_missing"  # the phase takes ONNX models, which need inputs
    assert hidden_data_for(phase_id=phase.pk).labels.read_bytes() == before
    assert not AuditEntry.objects.exists()


def test_only_the_competitions_hosts_set_hidden_data(phase):
    with pytest.raises(NotPermitted):
        phase_hidden_data_upload(phase=phase, by=UserFactory(), labels=upload("id,label\n1,1\n2,2\n"))


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("id,answer\n0,0\n1,1\n2,2\n3,3\n", "wrong_columns"),
        ("id,prediction,extra\n0,0,1\n1,1,1\n2,2,1\n3,3,1\n", "wrong_columns"),
        ("id,prediction\n0,0\n0,0\n1,1\n2,2\n3,3\n", "duplicate_ids"),
        ("id,prediction\n0,0\n1,1\n2,2\n3,3\n99,1\n", "unknown_ids"),
        ("id,prediction\n0,0\n1,1\n", "too_few_rows"),
        ("id,prediction\n0,0\n1,NaN\n2,2\n3,3\n", None),
        (b"id,prediction\n0,0\n1,\xff\xfe\n2,2\n3,3\n", None),
    ],
)
def test_a_predictions_file_that_cannot_be_scored_is_refused_at_upload(phase, team, entrant, settings, content, code):
    data = content if isinstance(content, bytes) else content.encode()
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(
            phase=phase, team=team, upload=SimpleUploadedFile("p.csv", data), kind="predictions", by=entrant
        )
    if code is not None:
        assert refused.value.code == code
    assert refused.value.errors["file"]
    assert not Submission.objects.exists()
    assert not list(Path(settings.PRIVATE_MEDIA_ROOT).glob("competitions/submissions/**/*.*"))


def test_a_phase_without_hidden_labels_takes_no_predictions_yet(team, entrant, competition):
    bare = PhaseFactory(competition=competition, hidden_labels=False)
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=bare, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert refused.value.code == "not_ready"

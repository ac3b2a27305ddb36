"""A host's scoring program for custom metrics: checked at upload, kept where the scorer finds it by phase,
and run by a scoring job in the sandbox."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from competitions.models import AuditEntry, DataFile, Submission
from competitions.services import (
    DataRefused,
    NotPermitted,
    phase_hidden_data_upload,
    phase_scoring_program_upload,
    submission_create,
)
from hub.events.models import OutboxEvent
from services.scorer.hidden import scoring_program_for
from services.scorer.jobs import job_run
from services.scorer.models import ScoringJob
from tests.competitions.factories import CompetitionFactory, PhaseFactory, TeamFactory
from tests.competitions.support import predictions, published
from tests.factories import UserFactory

# Two points for a right answer on class 0, one on any other class.
PROGRAM = """import csv, json, sys
labels = {r["id"]: r for r in csv.DictReader(open(sys.argv[2]))}
out = {}
for row in csv.DictReader(open(sys.argv[1])):
    truth = labels[row["id"]]
    points = (2 if truth["label"] == "0" else 1) if row["prediction"] == truth["label"] else 0
    out.setdefault(truth["split"], []).append(points)
print(json.dumps({split: {"weighted_hits": sum(p) / len(p)} for split, p in out.items()}))
"""
CUSTOM = {
    "output": "label",
    "metrics": ["accuracy", "weighted_hits"],
    "label_type": "int",
    "custom_metrics": {"weighted_hits": {"higher_is_better": True, "precision": 3}},
    "leaderboard_split": "public",
}


def program(text: str | bytes = PROGRAM, name: str = "score.py") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (program(name="score.txt"), "one Python file"),
        (program("def f(:\n    pass\n"), "Line 1"),
        (program(b"print('\xff')\n"), "not UTF-8"),
        (program(""), "between 1 byte and 1 MiB"),
    ],
)
def test_a_scoring_program_that_cannot_run_is_refused(phase, host, upload, message):
    with pytest.raises(DataRefused) as refused:
        phase_scoring_program_upload(phase=phase, by=host, program=upload)
    assert message in refused.value.errors["program"][0]
    assert scoring_program_for(phase_id=phase.pk) is None


def test_only_hosts_upload_it_and_new_hidden_data_keeps_it(competition, host):
    phase = PhaseFactory(competition=competition, accepted_kinds=["predictions"])
    with pytest.raises(NotPermitted):
        phase_scoring_program_upload(phase=phase, by=UserFactory(), program=program())
    phase_scoring_program_upload(phase=phase, by=host, program=program("print('{}')\n"))
    phase_scoring_program_upload(phase=phase, by=host, program=program())
    assert scoring_program_for(phase_id=phase.pk).read_text() == PROGRAM
    assert DataFile.objects.filter(phase=phase, role="scoring_program").count() == 1
    assert AuditEntry.objects.filter(details__has_key="scoring_program_sha256").count() == 2
    labels = "id,label,split\n0,0,public\n1,1,private\n2,2,public\n3,3,private\n"
    phase_hidden_data_upload(phase=phase, by=host, labels=SimpleUploadedFile("l.csv", labels.encode()))
    assert scoring_program_for(phase_id=phase.pk) is not None


def test_a_scoring_job_runs_the_hosts_program_for_its_custom_metric(transactional_db, settings, tmp_path, host):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    competition = CompetitionFactory(host=host.memberships.get().organisation)
    phase = PhaseFactory(
        competition=competition, accepted_kinds=["predictions"], scoring_config=CUSTOM, extra_columns=["weighted_hits"]
    )
    entrant = UserFactory()
    team = TeamFactory(competition=competition, members=[entrant])
    phase_scoring_program_upload(phase=phase, by=host, program=program())
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    [received] = published("competitions.submission.received.v1")
    job = ScoringJob.objects.create(submission_id=submission.pk, phase_id=phase.pk, queue="score-cpu", payload=received)
    assert job_run(job_id=str(job.pk), worker="test") == "finished"
    [finished] = published("scoring.job.finished.v1")
    # ids 0..3 all right; 0 (public) is worth 2 points, 2 (public) 1 point; 1 and 3 (private) 1 each.
    assert finished["scores"]["public"] == {"accuracy": 1.0, "weighted_hits": 1.5}
    assert finished["scores"]["private"]["weighted_hits"] == 1.0
    assert finished["reproducibility"]["program_sha256"] is not None
    assert Submission.objects.get().status == "received"  # the competitions consumer applies it, not the job
    assert OutboxEvent.objects.filter(type="scoring.job.failed.v1").count() == 0

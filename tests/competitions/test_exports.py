"""What hosts download: leaderboard and submissions CSV (with the byte-order mark Excel needs for Chinese)
and the zip of a phase's submitted files, which never carries the hidden data."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from competitions.exports import archive_name
from competitions.models import Phase
from competitions.services import phase_close, submission_create
from tests.competitions.factories import SubmissionFactory, TeamFactory
from tests.competitions.support import predictions, score
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def rows(response) -> list[dict]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.startswith("\ufeff".encode()), "UTF-8 byte-order mark first"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def url(phase: Phase, name: str) -> str:
    return f"/en/host/competitions/{phase.competition.slug}/phases/{phase.pk}/{name}"


@pytest.fixture
def ranked(phase):
    """Three teams scored on both splits: 甲 leads the public board, 乙 the private one."""
    scores = {"甲队": (0.9, 0.5), "乙队": (0.8, 0.95), "丙队": (0.7, 0.6)}
    for name, (public, private) in scores.items():
        team = TeamFactory(competition=phase.competition, name=name)
        score(SubmissionFactory(phase=phase, team=team), public=public, private=private)
    return phase


def test_the_public_leaderboard_csv_lists_every_team_in_rank_order(client, host, ranked):
    client.force_login(host)
    response = client.get(url(ranked, "leaderboard.csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = rows(response)
    assert [(r["rank"], r["team"], float(r["score"])) for r in table] == [
        ("1", "甲队", 0.9),
        ("2", "乙队", 0.8),
        ("3", "丙队", 0.7),
    ]


def test_the_leaderboard_csv_reads_every_page(client, host, phase, monkeypatch):
    monkeypatch.setattr("competitions.exports.MAX_PAGE_SIZE", 2)  # three pages of two, without 400 teams
    for n in range(5):
        score(SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition)), public=n / 10)
    client.force_login(host)
    assert [r["rank"] for r in rows(client.get(url(phase, "leaderboard.csv")))] == ["1", "2", "3", "4", "5"]


def test_the_private_leaderboard_csv_exists_only_after_the_close(client, host, ranked):
    client.force_login(host)
    assert client.get(url(ranked, "leaderboard.csv"), {"split": "private"}).status_code == 404
    assert client.get(url(ranked, "leaderboard.csv"), {"split": "secret"}).status_code == 404
    Phase.objects.filter(pk=ranked.pk).update(ends_at=timezone.now() - datetime.timedelta(seconds=1))
    phase_close(phase=Phase.objects.get(pk=ranked.pk), by=host)
    table = rows(client.get(url(ranked, "leaderboard.csv"), {"split": "private"}))
    assert [(r["team"], float(r["score"])) for r in table] == [("乙队", 0.95), ("丙队", 0.6), ("甲队", 0.5)]


def test_the_submissions_csv_streams_every_submission_and_private_scores_only_after_the_close(client, host, ranked):
    failed = SubmissionFactory(
        phase=ranked,
        team=TeamFactory(competition=ranked.competition, name="丁队"),
        status="failed",
        failure_code="too_few_rows",
        failure_reason="x",
    )
    client.force_login(host)
    response = client.get(url(ranked, "submissions.csv"))
    assert isinstance(response, StreamingHttpResponse)
    table = rows(response)
    assert len(table) == 4
    by_team = {r["team"]: r for r in table}
    assert by_team["乙队"]["public_score"] == "0.8" and by_team["乙队"]["private_score"] == ""
    assert by_team["丁队"]["id"] == str(failed.pk) and by_team["丁队"]["failure_code"] == "too_few_rows"
    assert by_team["甲队"]["created_at"].startswith(str(timezone.now().year))
    assert [r["team"] for r in rows(client.get(url(ranked, "submissions.csv"), {"team": "丁"}))] == ["丁队"]
    Phase.objects.filter(pk=ranked.pk).update(closed_at=timezone.now())
    by_team = {r["team"]: r for r in rows(client.get(url(ranked, "submissions.csv")))}
    assert by_team["乙队"]["private_score"] == "0.95"


def test_the_zip_holds_each_submitted_file_under_its_team_and_never_the_hidden_data(client, host, phase, team, entrant):
    first = submission_create(
        phase=phase, team=team, upload=predictions("我的预测.csv"), kind="predictions", by=entrant
    )
    second = submission_create(phase=phase, team=team, upload=predictions(shift=1), kind="predictions", by=entrant)
    client.force_login(host)
    response = client.get(url(phase, "submissions.zip"))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == sorted(
        [f"{team.name}/{first.pk}-我的预测.csv", f"{team.name}/{second.pk}-predictions.csv"]
    )
    assert archive.read(f"{team.name}/{second.pk}-predictions.csv") == predictions(shift=1).read()
    hidden = phase.data_files.get(role="hidden_labels").file.read()
    assert all(archive.read(name) != hidden for name in archive.namelist())


def test_a_file_missing_from_storage_is_listed_not_fatal(client, host, phase, team):
    lost = SubmissionFactory(phase=phase, team=team, original_name="lost.csv")
    client.force_login(host)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(client.get(url(phase, "submissions.zip")).streaming_content)))
    assert archive.namelist() == ["MISSING.txt"]
    assert archive.read("MISSING.txt").decode() == f"{team.name}/{lost.pk}-lost.csv\n"


def test_archive_names_cannot_leave_the_team_folder():
    assert archive_name("../队/x", 7, "../../etc/passwd") == "_队_x/7-_.._etc_passwd"
    assert archive_name("..", 8, ".hidden") == "_/8-hidden"


def test_exports_are_for_the_hosts_only(client, phase):
    client.force_login(UserFactory())
    for name in ("leaderboard.csv", "submissions.csv", "submissions.zip"):
        assert client.get(url(phase, name)).status_code == 403

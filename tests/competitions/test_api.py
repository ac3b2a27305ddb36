"""The competitions open API: who sees what, uploads and their refusals, leaderboards, pages and the schema."""

from __future__ import annotations

import datetime
import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from competitions.models import Baseline, Competition, DataFile, Phase, QuotaDay, Submission, Team, TeamMembership
from competitions.services import submission_record_job_event
from hub.accounts.models import Role, User
from hub.events.models import OutboxEvent
from hub.storage import private_storage
from tests.competitions.factories import CompetitionFactory, PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import finished, predictions, score
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/competitions/"


def client_for(user: User | None) -> APIClient:
    """A client signed in with the user's API token (None: anonymous), asking for English answers."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def other_entrant(competition: Competition) -> User:
    """An entrant of another team of the same competition."""
    user = UserFactory()
    TeamFactory(competition=competition, members=[user])
    return user


@pytest.fixture
def other_host(db) -> User:
    """A competition host of another organisation."""
    return MembershipFactory(role=Role.COMPETITION_HOST).user


@pytest.fixture
def people(entrant, other_entrant, host, other_host) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "entrant": entrant,
        "other entrant": other_entrant,
        "host": host,
        "other host": other_host,
    }


@pytest.fixture
def submission(phase: Phase, team: Team, entrant: User) -> Submission:
    """A scored submission of `team`, with private scores and a failure-free log."""
    made = SubmissionFactory(phase=phase, team=team, submitted_by=entrant, log_tail="epoch 1 ok")
    return score(made, public=0.75, private=0.5, ci=(0.6, 0.9))


def upload(client: APIClient, slug: str, file, **fields) -> tuple[int, dict]:
    response = client.post(f"{BASE}{slug}/submissions/", {"file": file, **fields}, format="multipart")
    return response.status_code, response.json()


def nothing_stored() -> bool:
    root = private_storage().path("competitions/submissions")
    stored = os.listdir(root) if os.path.isdir(root) else []
    return (
        not Submission.objects.exists()
        and not stored
        and not OutboxEvent.objects.filter(type="competitions.submission.received.v1").exists()
        and not QuotaDay.objects.filter(used__gt=0).exists()
    )


# --- permissions, endpoint by endpoint ------------------------------------------------------------
def test_who_sees_which_competition(people, competition, phase):
    draft = CompetitionFactory(draft=True, host=competition.host, slug="draft-one")
    expected_list = {"anonymous": 1, "entrant": 1, "other entrant": 1, "host": 2, "other host": 1}
    for who, user in people.items():
        client = client_for(user)
        listed = client.get(BASE).json()
        assert listed["count"] == expected_list[who], who
        assert client.get(f"{BASE}{competition.slug}/").status_code == 200, who
        assert client.get(f"{BASE}{competition.slug}/phases/").json()["results"][0]["id"] == phase.pk
        assert client.get(f"{BASE}{draft.slug}/").status_code == (200 if who == "host" else 404), who
        assert client.get(f"{BASE}{draft.slug}/phases/").status_code == (200 if who == "host" else 404), who


def test_my_team_is_for_its_members_only(people, competition, team):
    expected = {"anonymous": 401, "entrant": 200, "other entrant": 200, "host": 404, "other host": 404}
    for who, user in people.items():
        response = client_for(user).get(f"{BASE}{competition.slug}/team/")
        assert response.status_code == expected[who], who
    mine = client_for(people["entrant"]).get(f"{BASE}{competition.slug}/team/").json()
    theirs = client_for(people["other entrant"]).get(f"{BASE}{competition.slug}/team/").json()
    assert mine["id"] == team.pk and mine["invite_code"] == team.invite_code
    assert theirs["id"] != team.pk and theirs["invite_code"] != team.invite_code


def test_a_submission_is_read_by_its_team_and_the_hosts_only(people, competition, submission):
    expected = {"anonymous": 401, "entrant": 200, "other entrant": 404, "host": 200, "other host": 404}
    for suffix in ("", "status/"):
        for who, user in people.items():
            response = client_for(user).get(f"{BASE}{competition.slug}/submissions/{submission.pk}/{suffix}")
            assert response.status_code == expected[who], (who, suffix)
    listed = {"anonymous": 401, "entrant": 1, "other entrant": 0, "host": 1, "other host": 403}
    for who, user in people.items():
        response = client_for(user).get(f"{BASE}{competition.slug}/submissions/")
        got = response.json()["count"] if response.status_code == 200 else response.status_code
        assert got == listed[who], who


def test_only_the_team_selects_for_the_final(people, competition, submission):
    url = f"{BASE}{competition.slug}/submissions/{submission.pk}/final/"
    expected = {"anonymous": 401, "other entrant": 404, "host": 403, "other host": 404}
    for who, status in expected.items():
        assert client_for(people[who]).post(url, {"selected": True}, format="json").status_code == status, who
    response = client_for(people["entrant"]).post(url, {"selected": True}, format="json")
    assert response.status_code == 200 and response.json()["selected_for_final"] is True
    submission.refresh_from_db()
    assert submission.selected_for_final


def test_host_refusal_reads_as_a_403_with_the_reason(host, competition, submission):
    response = client_for(host).post(
        f"{BASE}{competition.slug}/submissions/{submission.pk}/final/", {"selected": True}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Only members of the team may do this.", "code": "not_permitted", "errors": {}}


def test_anyone_reads_a_public_leaderboard_and_only_hosts_a_drafts(people, competition, phase, submission):
    draft = CompetitionFactory(draft=True, host=competition.host, slug="draft-board")
    draft_phase = PhaseFactory(competition=draft)
    for who, user in people.items():
        client = client_for(user)
        board = client.get(f"{BASE}{competition.slug}/leaderboard/")
        assert board.status_code == 200 and board.json()["count"] == 1, who
        assert client.get(f"{BASE}{competition.slug}/leaderboard/?phase={phase.pk}").json()["count"] == 1, who
        expected = 200 if who == "host" else 404
        assert client.get(f"{BASE}{draft.slug}/leaderboard/").status_code == expected, who
        assert client.get(f"{BASE}{draft.slug}/leaderboard/?phase={draft_phase.pk}").status_code == expected, who
        # A phase of another competition is no phase of this one, whoever asks.
        assert client.get(f"{BASE}{competition.slug}/leaderboard/?phase={draft_phase.pk}").status_code == 400, who


def test_forming_and_joining_teams_needs_a_signed_in_entrant(people, competition, team):
    anonymous = client_for(None)
    assert anonymous.post(f"{BASE}{competition.slug}/team/", {"name": "匿名队"}, format="json").status_code == 401
    joined = anonymous.post(f"{BASE}{competition.slug}/team/join/", {"invite_code": team.invite_code}, format="json")
    assert joined.status_code == 401
    # An entrant is in one team per competition.
    refused = client_for(people["other entrant"]).post(
        f"{BASE}{competition.slug}/team/join/", {"invite_code": team.invite_code}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "already_in_team")
    assert team.memberships.count() == 1


# --- teams ---------------------------------------------------------------------------------------
def test_an_entrant_accepts_the_rules_forms_a_team_and_another_joins_by_its_code(competition):
    founder, friend = UserFactory(), UserFactory()
    response = client_for(founder).post(f"{BASE}{competition.slug}/team/", {"name": "  深蓝队 "}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "rules_not_accepted")
    for user in (founder, friend):
        accepted = client_for(user).post(f"{BASE}{competition.slug}/rules/accept/")
        assert accepted.status_code == 200 and accepted.json()["revision"] == competition.revision
    response = client_for(founder).post(f"{BASE}{competition.slug}/team/", {"name": "  深蓝队 "}, format="json")
    assert response.status_code == 201
    code = response.json()["invite_code"]
    assert response.json()["name"] == "深蓝队"

    joined = client_for(friend).post(f"{BASE}{competition.slug}/team/join/", {"invite_code": code}, format="json")
    assert joined.status_code == 200
    assert sorted(joined.json()["members"]) == sorted([founder.username, friend.username])

    again = client_for(founder).post(f"{BASE}{competition.slug}/team/", {"name": "另一队"}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "already_in_team"
    assert Team.objects.filter(competition=competition).count() == 1


def test_an_invite_code_of_another_competition_joins_nothing(competition, team):
    elsewhere = CompetitionFactory()
    response = client_for(UserFactory()).post(
        f"{BASE}{elsewhere.slug}/team/join/", {"invite_code": team.invite_code}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_invite_code"
    assert team.memberships.count() == 1


def test_a_team_without_a_name_is_a_400_naming_the_field(competition):
    response = client_for(UserFactory()).post(f"{BASE}{competition.slug}/team/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "name" in response.json()["errors"]
    assert not TeamMembership.objects.exists()


# --- uploads -------------------------------------------------------------------------------------
def test_an_entrant_uploads_predictions_and_follows_the_status(competition, phase, team, entrant):
    client = client_for(entrant)
    status, body = upload(client, competition.slug, predictions(), kind="predictions", description="第一次")
    assert status == 201, body
    submission = Submission.objects.get()
    assert (body["id"], body["status"], body["queue_position"]) == (submission.pk, "received", 1)
    assert (body["original_name"], body["phase"], body["description"]) == ("predictions.csv", phase.pk, "第一次")
    assert private_storage().exists(submission.file.name)
    assert OutboxEvent.objects.filter(type="competitions.submission.received.v1").count() == 1

    submission_record_job_event(event=finished(submission, public=0.9, private=0.4))
    polled = client.get(f"{BASE}{competition.slug}/submissions/{submission.pk}/status/").json()
    assert (polled["status"], polled["is_final"], polled["progress"]) == ("scored", True, 100)
    assert polled["scores"] == {"public": {"accuracy": 0.9, "f1_macro": 0.9}}
    assert polled["public_score"] == 0.9 and polled["private_score"] is None


@pytest.mark.parametrize(
    ("file", "fields", "code"),
    [
        (lambda: predictions(size=2 * 1024 * 1024), {"kind": "predictions"}, "too_large"),
        (lambda: predictions(), {"kind": "package"}, "kind_not_accepted"),
        (lambda: predictions(name="predictions.txt"), {"kind": "predictions"}, "wrong_extension"),
        (lambda: predictions(), {"kind": "onnx"}, "wrong_extension"),
    ],
    ids=["oversize", "kind-not-accepted", "wrong-file-type", "kind-mismatch"],
)
def test_a_refused_upload_is_a_400_with_the_reason_and_stores_nothing(
    competition, phase, team, entrant, file, fields, code
):
    status, body = upload(client_for(entrant), competition.slug, file(), **fields)
    assert status == 400, body
    assert body["code"] == code and body["detail"]
    assert nothing_stored()


def test_predictions_missing_a_column_are_refused_at_upload(competition, phase, team, entrant):
    bad = SimpleUploadedFile("predictions.csv", b"id\n0\n1\n2\n3\n", content_type="text/csv")
    status, body = upload(client_for(entrant), competition.slug, bad, kind="predictions")
    assert status == 400, body
    assert "prediction" in body["detail"]
    assert nothing_stored()


def test_a_request_without_a_file_is_a_400_naming_it(competition, phase, team, entrant):
    response = client_for(entrant).post(f"{BASE}{competition.slug}/submissions/", {"kind": "predictions"})
    assert response.status_code == 400 and "file" in response.json()["errors"]
    assert nothing_stored()


def test_someone_outside_every_team_cannot_submit(competition, phase):
    status, body = upload(client_for(UserFactory()), competition.slug, predictions(), kind="predictions")
    assert (status, body["code"]) == (403, "not_permitted")
    assert nothing_stored()


def test_anonymous_uploads_are_refused(competition, phase):
    status, body = upload(client_for(None), competition.slug, predictions(), kind="predictions")
    assert (status, body["code"]) == (401, "not_authenticated")
    assert body["detail"] == "Authentication credentials were not provided."
    assert nothing_stored()


def test_the_daily_limit_refuses_the_next_upload(competition, phase, team, entrant):
    client = client_for(entrant)
    for shift in range(phase.daily_limit):
        assert upload(client, competition.slug, predictions(shift=shift), kind="predictions")[0] == 201
    status, body = upload(client, competition.slug, predictions(shift=9), kind="predictions")
    assert (status, body["code"]) == (400, "daily_limit")
    assert Submission.objects.count() == phase.daily_limit


def test_after_the_deadline_nothing_is_accepted(competition, team, entrant):
    ended = PhaseFactory(
        competition=competition,
        starts_at=timezone.now() - datetime.timedelta(days=3),
        ends_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    status, body = upload(client_for(entrant), competition.slug, predictions(), kind="predictions", phase=ended.pk)
    assert (status, body["code"]) == (400, "phase_closed")
    assert nothing_stored()


def test_a_phase_of_another_competition_is_a_400(competition, phase, team, entrant):
    foreign = PhaseFactory()
    status, body = upload(client_for(entrant), competition.slug, predictions(), phase=foreign.pk)
    assert status == 400 and "phase" in body["errors"]
    assert nothing_stored()


# --- what entrants may see -------------------------------------------------------------------------
def test_private_scores_stay_hidden_from_entrants_until_the_phase_closes(host, entrant, competition, phase, submission):
    url = f"{BASE}{competition.slug}/submissions/{submission.pk}/"
    before = client_for(entrant).get(url).json()
    assert set(before["scores"]) == {"public"} and before["private_score"] is None
    assert client_for(host).get(url).json()["private_score"] == 0.5

    Phase.objects.filter(pk=phase.pk).update(closed_at=timezone.now())
    after = client_for(entrant).get(url).json()
    assert set(after["scores"]) == {"public", "private"} and after["private_score"] == 0.5


def test_no_response_names_hidden_data_or_a_storage_path(people, competition, phase, submission):
    hidden = DataFile.objects.filter(phase=phase, role__in=DataFile.HIDDEN).values_list("file", flat=True)
    secrets = [*hidden, submission.file.name, "hidden_labels", "hidden/", "reproducibility", submission.job_id]
    Phase.objects.filter(pk=phase.pk).update(closed_at=timezone.now())  # every split visible
    urls = [
        BASE,
        f"{BASE}{competition.slug}/",
        f"{BASE}{competition.slug}/phases/",
        f"{BASE}{competition.slug}/team/",
        f"{BASE}{competition.slug}/submissions/",
        f"{BASE}{competition.slug}/submissions/{submission.pk}/",
        f"{BASE}{competition.slug}/submissions/{submission.pk}/status/",
        f"{BASE}{competition.slug}/leaderboard/",
        f"{BASE}{competition.slug}/leaderboard/?split=private",
    ]
    assert list(hidden), "the phase should have hidden labels to leak"
    for who, user in people.items():
        for url in urls:
            text = client_for(user).get(url).content.decode()
            leaked = [secret for secret in secrets if secret and secret in text]
            assert not leaked, (who, url, leaked)


# --- leaderboards --------------------------------------------------------------------------------
def scored_teams(phase: Phase, count: int) -> list[Submission]:
    made = []
    for i in range(count):
        team = TeamFactory(competition=phase.competition, name=f"队伍{i:02d}")
        made.append(score(SubmissionFactory(phase=phase, team=team), public=i / 100, private=1 - i / 100))
    return made


def test_the_public_leaderboard_ranks_teams_with_baselines_and_the_private_waits_for_the_close(competition, phase):
    scored_teams(phase, 3)
    Baseline.objects.create(phase=phase, name="随机基线", scores={"public": {"accuracy": 0.015}})
    client = client_for(None)
    board = client.get(f"{BASE}{competition.slug}/leaderboard/").json()
    assert [row["team_name"] for row in board["results"]] == ["队伍02", "队伍01", "队伍00"]
    assert [row["rank"] for row in board["results"]] == [1, 2, 3]
    assert (board["split"], board["metric"], board["count"]) == ("public", "accuracy", 3)
    assert board["baselines"] == [{"name": "随机基线", "name_en": "", "score": 0.015}]
    assert {"tied_with_leader", "ci_low", "ci_high"} <= set(board["results"][0])

    hidden = client.get(f"{BASE}{competition.slug}/leaderboard/?split=private")
    assert hidden.status_code == 404 and hidden.json()["code"] == "leaderboard_hidden"

    Phase.objects.filter(pk=phase.pk).update(closed_at=timezone.now())
    private = client.get(f"{BASE}{competition.slug}/leaderboard/?split=private").json()
    assert [row["team_name"] for row in private["results"]] == ["队伍00", "队伍01", "队伍02"]


def test_a_team_whose_interval_overlaps_the_leaders_is_flagged_as_tied(competition, phase):
    first = TeamFactory(competition=competition)
    second = TeamFactory(competition=competition)
    score(SubmissionFactory(phase=phase, team=first), public=0.8, ci=(0.7, 0.9))
    score(SubmissionFactory(phase=phase, team=second), public=0.75, ci=(0.65, 0.85))
    rows = client_for(None).get(f"{BASE}{competition.slug}/leaderboard/").json()["results"]
    assert [(row["team_id"], row["tied_with_leader"]) for row in rows] == [(first.pk, False), (second.pk, True)]


def test_leaderboards_page(competition, phase):
    scored_teams(phase, 5)
    client = client_for(None)
    first = client.get(f"{BASE}{competition.slug}/leaderboard/?size=2").json()
    assert (first["count"], first["pages"], first["previous"]) == (5, 3, None)
    second = client.get(first["next"]).json()
    assert [row["rank"] for row in second["results"]] == [3, 4]
    assert second["previous"] and second["next"]
    bad = client.get(f"{BASE}{competition.slug}/leaderboard/?page=x")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert client.get(f"{BASE}{competition.slug}/leaderboard/?split=other").status_code == 400


def test_every_list_pages(competition, phase, team, entrant):
    for i in range(3):
        CompetitionFactory(slug=f"extra-{i}")
        SubmissionFactory(phase=phase, team=team)
    client = client_for(entrant)
    for url in (BASE, f"{BASE}{competition.slug}/submissions/"):
        page = client.get(url, {"size": 2}).json()
        assert page["count"] >= 3 and len(page["results"]) == 2 and page["next"], url
    phases = client.get(f"{BASE}{competition.slug}/phases/", {"size": 1}).json()
    assert phases["count"] == 1 and "next" in phases


# --- the schema ----------------------------------------------------------------------------------
def test_the_schema_builds_and_lists_every_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/token/",
        "/api/v1/competitions/",
        "/api/v1/competitions/{slug}/",
        "/api/v1/competitions/{slug}/phases/",
        "/api/v1/competitions/{slug}/team/",
        "/api/v1/competitions/{slug}/team/join/",
        "/api/v1/competitions/{slug}/submissions/",
        "/api/v1/competitions/{slug}/submissions/{id}/",
        "/api/v1/competitions/{slug}/submissions/{id}/status/",
        "/api/v1/competitions/{slug}/submissions/{id}/final/",
        "/api/v1/competitions/{slug}/leaderboard/",
    } <= paths
    upload_body = schema["paths"]["/api/v1/competitions/{slug}/submissions/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload_body
    assert "tokenAuth" in schema["components"]["securitySchemes"]

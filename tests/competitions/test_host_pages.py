"""The hosts' competition pages: who gets in, what each form does, and refusals shown as form errors."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from competitions.models import AuditEntry, Baseline, Competition, DataFile, Phase, Submission
from competitions.selectors import phase_analytics
from hub.accounts.models import Role
from tests.competitions.factories import CompetitionFactory, PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import score
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/en/host/competitions/"


def login(client: Client, user) -> Client:
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def phase_post(**overrides) -> dict:
    """A valid phase form: predictions only, accuracy first and F1 as an extra column."""
    now = timezone.localtime()
    data = {
        "action": "settings",
        "name": "决赛",
        "name_en": "Final",
        "starts_at": (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now + datetime.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        "accepted_kinds": ["predictions"],
        "resources": "cpu",
        "time_limit_seconds": "600",
        "memory_limit_bytes": str(2 * 1024**3),
        "max_upload_bytes": str(10 * 1024**2),
        "daily_limit": "3",
        "total_limit": "",
        "final_selection_count": "2",
        "public_fraction": "0.4",
        "output": "label",
        "primary_metric": "accuracy",
        "other_metrics": ["f1_macro"],
        "label_type": "int",
        "classes": "",
    }
    data.update(overrides)
    return data


# --- who gets in -----------------------------------------------------------------------------------
PAGES = [
    "{slug}/",
    "{slug}/audit/",
    "{slug}/bundle.zip",
    "{slug}/phases/new/",
    "{slug}/phases/{phase}/",
    "{slug}/phases/{phase}/close/",
    "{slug}/phases/{phase}/submissions/",
    "{slug}/phases/{phase}/analytics/",
    "{slug}/phases/{phase}/leaderboard.csv",
    "{slug}/phases/{phase}/submissions.csv",
    "{slug}/phases/{phase}/submissions.zip",
]


@pytest.mark.parametrize("path", PAGES)
def test_each_competition_page_is_for_its_hosts_only(client, host, phase, entrant, path):
    competition = phase.competition
    url = BASE + path.format(slug=competition.slug, phase=phase.pk)
    assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    assert "/accounts/login/" in client.get(url)["Location"]
    other_host = MembershipFactory(role=Role.COMPETITION_HOST).user
    assert login(client, other_host).get(url).status_code == 403  # public competition: it exists, not theirs
    assert login(client, entrant).get(url).status_code == 403
    assert login(client, host).get(url).status_code == 200


def test_a_draft_is_a_404_for_anyone_but_its_hosts(client, host):
    draft = CompetitionFactory(host=host.memberships.get().organisation, draft=True)
    PhaseFactory(competition=draft)
    other_host = MembershipFactory(role=Role.COMPETITION_HOST).user
    assert login(client, other_host).get(f"{BASE}{draft.slug}/").status_code == 404
    assert login(client, host).get(f"{BASE}{draft.slug}/").status_code == 200


def test_the_list_shows_the_hosts_competitions_drafts_included_and_no_others(client, host, competition, entrant):
    draft = CompetitionFactory(host=competition.host, draft=True, title_en="", title="草稿比赛")
    foreign = CompetitionFactory(title="别家的比赛", title_en="")
    page = html(login(client, host).get(BASE))
    assert draft.title in page and competition.slug in page
    assert foreign.title not in page
    assert login(client, entrant).get(BASE).status_code == 403  # not a host anywhere


# --- creating, editing, publishing -----------------------------------------------------------------
def test_a_host_creates_a_draft_competition(client, host):
    organisation = host.memberships.get().organisation
    response = login(client, host).post(
        BASE + "new/", {"host": organisation.pk, "slug": "llm-2027", "title": "大模型挑战赛", "max_team_size": 4}
    )
    assert response.status_code == 302 and response["Location"].endswith("/host/competitions/llm-2027/")
    competition = Competition.objects.get(slug="llm-2027")
    assert (competition.status, competition.host, competition.created_by, competition.max_team_size) == (
        "draft",
        organisation,
        host,
        4,
    )


def test_a_taken_slug_is_a_form_error_and_nothing_is_stored(client, host, competition):
    organisation = host.memberships.get().organisation
    response = login(client, host).post(
        BASE + "new/", {"host": organisation.pk, "slug": competition.slug, "title": "同名", "max_team_size": 3}
    )
    assert response.status_code == 200
    assert "There is a problem" in html(response) and "already exists" in html(response)
    assert Competition.objects.filter(slug=competition.slug).count() == 1
    assert not Competition.objects.filter(title="同名").exists()


def test_publishing_an_incomplete_draft_shows_what_is_missing_at_its_fields(client, host):
    draft = CompetitionFactory(host=host.memberships.get().organisation, draft=True, description="", rules="")
    response = login(client, host).post(f"{BASE}{draft.slug}/", {"action": "publish"})
    page = html(response)
    assert response.status_code == 200
    assert page.count("Required to publish.") == 4  # description and rules: in the summary and at the field
    assert "Add at least one phase." in page
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.published_at is None


def test_a_complete_draft_is_published_and_moves_on_through_the_statuses(client, host):
    draft = CompetitionFactory(host=host.memberships.get().organisation, draft=True)
    PhaseFactory(competition=draft)
    login(client, host)
    assert client.post(f"{BASE}{draft.slug}/", {"action": "publish"}).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published" and draft.revision == 1
    # Archived is not a step a published competition may take: the choice is not offered.
    response = client.post(f"{BASE}{draft.slug}/", {"action": "status", "status": "archived"})
    assert response.status_code == 200 and "Select a valid choice" in html(response)
    assert client.post(f"{BASE}{draft.slug}/", {"action": "status", "status": "running"}).status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.revision) == ("running", 2)


def test_editing_a_published_competition_saves_a_new_version_but_not_a_new_slug(client, host, competition):
    login(client, host)
    data = {name: getattr(competition, name) for name in ("title", "title_en", "description", "rules")}
    data.update(action="settings", slug=competition.slug, max_team_size=5, title="新标题")
    assert client.post(f"{BASE}{competition.slug}/", data).status_code == 302
    competition.refresh_from_db()
    assert (competition.title, competition.max_team_size, competition.revision) == ("新标题", 5, 2)
    response = client.post(f"{BASE}{competition.slug}/", {**data, "slug": "moved"})
    assert response.status_code == 200 and "Fixed once published." in html(response)
    assert Competition.objects.filter(slug=competition.slug).exists()


# --- phases ------------------------------------------------------------------------------------------
def test_a_host_adds_a_phase_with_its_scoring(client, host, competition):
    response = login(client, host).post(f"{BASE}{competition.slug}/phases/new/", phase_post())
    assert response.status_code == 302
    phase = Phase.objects.get(competition=competition, name="决赛")
    assert phase.scoring_config["metrics"] == ["accuracy", "f1_macro"]
    assert (phase.primary_metric, phase.extra_columns, phase.daily_limit, phase.public_fraction) == (
        "accuracy",
        ["f1_macro"],
        3,
        0.4,
    )
    assert phase.accepted_kinds == ["predictions"] and phase.total_limit is None


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"ends_at": "2020-01-01T00:00"}, "The phase must close after it opens."),
        ({"output": "value"}, "This metric cannot be computed from that kind of prediction."),
        ({"output": "proba", "primary_metric": "log_loss", "classes": "cat"}, "two or more distinct classes"),
        ({"daily_limit": "0"}, "greater than or equal to 1"),
    ],
)
def test_a_refused_phase_is_a_form_error_and_nothing_is_stored(client, host, competition, overrides, error):
    response = login(client, host).post(f"{BASE}{competition.slug}/phases/new/", phase_post(**overrides))
    assert response.status_code == 200
    assert error in html(response)
    assert not Phase.objects.filter(competition=competition).exists()


def test_editing_a_phase_keeps_its_scoring_parameters_and_writes_the_change_to_the_audit_log(client, host, phase):
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/"
    form = html(login(client, host).get(url))
    assert 'value="accuracy" selected' in form or 'value="accuracy" id' in form
    response = client.post(url, phase_post(primary_metric="f1_macro", other_metrics=["accuracy"]))
    assert response.status_code == 302
    phase.refresh_from_db()
    assert phase.primary_metric == "f1_macro" and phase.extra_columns == ["accuracy"]
    assert AuditEntry.objects.filter(phase=phase, action="scoring_changed").count() == 1


def test_hidden_data_errors_are_all_listed_with_their_line_numbers_and_nothing_changes(client, host, phase):
    before = DataFile.objects.get(phase=phase, role="hidden_labels")
    labels = SimpleUploadedFile("labels.csv", b"id,label\n0,1\n1,x\n2,\n0,3\n")
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/"
    response = login(client, host).post(url, {"action": "hidden", "labels": labels})
    page = html(response)
    assert response.status_code == 200
    assert "Line 3: the label x is not a whole number." in page
    assert "Line 4: the label is empty." in page
    assert "Line 5: id 0 already appears on line 2." in page
    assert list(DataFile.objects.filter(phase=phase, role__in=DataFile.HIDDEN)) == [before]


def test_hidden_data_upload_replaces_the_set(client, host, phase):
    phase.accepted_kinds = ["predictions"]
    phase.save()
    rows = "".join(f"{i},{i % 10},{'public' if i < 5 else 'private'}\n" for i in range(10))
    labels = SimpleUploadedFile("test-labels.csv", ("id,label,split\n" + rows).encode())
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/"
    assert login(client, host).post(url, {"action": "hidden", "labels": labels}).status_code == 302
    stored = DataFile.objects.get(phase=phase, role="hidden_labels")
    assert stored.original_name == "test-labels.csv" and stored.file.read().decode().count("\n") == 11
    assert AuditEntry.objects.filter(phase=phase, action="hidden_data_replaced").exists()
    assert "test-labels.csv" in html(client.get(url))


def test_training_files_and_baselines_are_added_from_the_phase_page(client, host, phase):
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/"
    login(client, host)
    upload = SimpleUploadedFile("starter.ipynb", b"{}")
    assert client.post(url, {"action": "training", "file": upload, "description": "入门"}).status_code == 302
    assert DataFile.objects.get(phase=phase, role="training").original_name == "starter.ipynb"
    empty = SimpleUploadedFile("empty.csv", b"")
    response = client.post(url, {"action": "training", "file": empty})
    assert response.status_code == 200 and "The submitted file is empty." in html(response)
    response = client.post(url, {"action": "baseline", "name": "逻辑回归", "public": "0.81", "private": "0.8"})
    assert response.status_code == 302
    baseline = Baseline.objects.get(phase=phase)
    assert baseline.scores == {"public": {"accuracy": 0.81}, "private": {"accuracy": 0.8}}
    assert "0.81" in html(client.get(url))


# --- submissions, hiding, disqualifying, closing ------------------------------------------------------
def test_the_submissions_table_filters_by_status_kind_and_team_and_pages(client, host, phase):
    red = TeamFactory(competition=phase.competition, name="红队")
    blue = TeamFactory(competition=phase.competition, name="蓝队")
    scored = SubmissionFactory(phase=phase, team=red, original_name="red-best.csv")
    score(scored, public=0.9)
    SubmissionFactory(phase=phase, team=blue, original_name="blue-model.onnx", kind="onnx")
    for n in range(26):
        SubmissionFactory(phase=phase, team=blue, original_name=f"blue-{n}.csv")
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/"
    login(client, host)
    assert "28 submissions" in html(client.get(url)) and "Page 1 of 2" in html(client.get(url))
    page = html(client.get(url, {"status": "scored"}))
    assert "red-best.csv" in page and "blue-model.onnx" not in page
    page = html(client.get(url, {"kind": "onnx"}))
    assert "blue-model.onnx" in page and "red-best.csv" not in page
    page = html(client.get(url, {"team": "红"}))
    assert "1 submission" in page and "red-best.csv" in page
    assert "Select a valid choice" in html(client.get(url, {"status": "bogus"}))


def test_a_host_hides_and_shows_a_submission_with_a_reason_and_the_leaderboard_follows(client, host, phase, team):
    submission = score(SubmissionFactory(phase=phase, team=team), public=0.9)
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/{submission.pk}/"
    login(client, host)
    response = client.post(url + "hide/", {"reason": "  "})
    assert response.status_code == 400 and "This field is required." in html(response)
    assert not Submission.objects.get(pk=submission.pk).hidden
    back = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/?team=x"
    response = client.post(url + "hide/", {"reason": "与他队结果雷同", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    submission.refresh_from_db()
    assert submission.hidden and submission.hidden_reason == "与他队结果雷同"
    assert not phase.leaderboard_entries.exists()
    assert client.post(url + "show/", {"reason": "复核无误"}).status_code == 302
    assert phase.leaderboard_entries.count() == 1
    actions = list(AuditEntry.objects.filter(submission=submission).values_list("action", "reason", "actor"))
    assert sorted(actions) == [
        ("submission_hidden", "与他队结果雷同", host.pk),
        ("submission_shown", "复核无误", host.pk),
    ]
    audit = html(client.get(f"{BASE}{phase.competition.slug}/audit/"))
    assert "与他队结果雷同" in audit and "复核无误" in audit
    assert client.post(url + "explode/", {"reason": "x"}).status_code == 404


def test_a_host_disqualifies_a_team_and_others_cannot(client, host, phase, team, entrant):
    submission = score(SubmissionFactory(phase=phase, team=team), public=0.9)
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/{submission.pk}/disqualify/"
    assert login(client, entrant).post(url, {"reason": "自己取消"}).status_code == 403
    assert login(client, host).post(url, {"reason": "多账号提交"}).status_code == 302
    team.refresh_from_db()
    assert team.disqualified and team.disqualified_reason == "多账号提交"
    assert not phase.leaderboard_entries.exists()
    assert AuditEntry.objects.get(action="team_disqualified").team == team


def test_closing_a_phase_needs_its_end_and_a_confirmation(client, host, phase):
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/close/"
    login(client, host)
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 200 and "A phase can be closed only after its end." in html(response)
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=1))
    response = client.post(url, {})
    assert response.status_code == 200 and "This field is required." in html(response)
    assert Phase.objects.get(pk=phase.pk).closed_at is None
    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert Phase.objects.get(pk=phase.pk).is_closed
    assert AuditEntry.objects.filter(phase=phase, action="phase_closed").count() == 1


# --- analytics ---------------------------------------------------------------------------------------
def test_analytics_count_per_day_teams_failures_and_queue_waits(client, host, phase):
    teams = [TeamFactory(competition=phase.competition) for _ in range(3)]
    TeamFactory(competition=phase.competition)  # entered, never submitted
    day = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    made = [
        (teams[0], day - datetime.timedelta(days=1), 10, ""),
        (teams[0], day, 20, ""),
        (teams[1], day, 30, "too_few_rows"),
        (teams[2], day, 40, "too_few_rows"),
        (teams[2], day, None, "worker_lost"),
    ]
    for team, created, wait, failure in made:
        SubmissionFactory(
            phase=phase,
            team=team,
            created_at=created,
            started_at=None if wait is None else created + datetime.timedelta(seconds=wait),
            status="failed" if failure else "scored",
            failure_code=failure,
            failure_reason="x" if failure else "",
        )
    numbers = phase_analytics(phase=phase)
    assert numbers.per_day == [(day.date() - datetime.timedelta(days=1), 1), (day.date(), 4)]
    assert (numbers.submissions, numbers.teams_submitting, numbers.teams_entered) == (5, 3, 4)
    assert numbers.failures == [("too_few_rows", 2), ("worker_lost", 1)]
    assert numbers.wait_median == pytest.approx(25.0) and numbers.wait_p90 == pytest.approx(37.0)
    page = html(login(client, host).get(f"{BASE}{phase.competition.slug}/phases/{phase.pk}/analytics/"))
    assert "25.0 s" in page and "37.0 s" in page and "3 of 4 teams" in page and "<svg" in page


def test_pages_render_in_chinese_at_the_root(client, host, phase):
    response = login(client, host).get(f"/host/competitions/{phase.competition.slug}/phases/{phase.pk}/")
    assert response.status_code == 200 and 'lang="zh-hans"' in html(response)


def test_an_admin_of_the_organisation_is_a_host_too(client, competition):
    admin = MembershipFactory(organisation=competition.host, role=Role.ADMIN).user
    assert login(client, admin).get(f"{BASE}{competition.slug}/").status_code == 200
    assert login(client, UserFactory()).get(BASE + "new/").status_code == 403


def test_the_submissions_page_reads_a_fixed_number_of_queries_whatever_the_rows(
    client, host, phase, django_assert_max_num_queries
):
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/"
    login(client, host)
    for _ in range(3):
        SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition))
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(20):
        SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "23 submissions" in html(client.get(url))


# --- rescoring and the scoring program ---------------------------------------------------------------
def test_a_host_rescores_a_submission_or_the_whole_phase_with_a_reason(client, host, phase, team):
    submission = score(SubmissionFactory(phase=phase, team=team), public=0.9)
    other = score(SubmissionFactory(phase=phase, team=team), public=0.5)
    login(client, host)
    table = html(client.get(f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/"))
    assert "Rescore" in table
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/submissions/{submission.pk}/rescore/"
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "标签已更正"}).status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.scoring_round) == ("received", 2)

    phase_url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/"
    response = client.post(phase_url, {"action": "rescore", "rescore-reason": "新评分配置"}, follow=True)
    assert "1 submissions are sent to be scored again." in html(response)  # the one still scored
    other.refresh_from_db()
    assert other.scoring_round == 2
    assert AuditEntry.objects.filter(action="submission_rescored").count() == 2


def test_a_host_uploads_a_scoring_program_and_a_broken_one_is_a_form_error(client, host, phase):
    login(client, host)
    url = f"{BASE}{phase.competition.slug}/phases/{phase.pk}/"
    broken = SimpleUploadedFile("score.py", b"def (:\n")
    response = client.post(url, {"action": "program", "program": broken})
    assert response.status_code == 200 and "Line 1" in html(response)
    assert not DataFile.objects.filter(phase=phase, role="scoring_program").exists()
    good = SimpleUploadedFile("score.py", b"print('{}')\n")
    assert client.post(url, {"action": "program", "program": good}).status_code == 302
    assert DataFile.objects.filter(phase=phase, role="scoring_program").count() == 1

"""The competition services: each write's happy path and the refusals an entrant or host can act on."""

import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from competitions.models import AuditEntry, Competition, Phase, QuotaDay, Submission, TeamMembership
from competitions.services import (
    CompetitionRefused,
    NotPermitted,
    PhaseRefused,
    SubmissionRefused,
    TeamRefused,
    competition_create,
    competition_publish,
    competition_set_status,
    competition_update,
    phase_close,
    phase_create,
    phase_update,
    submission_cancel,
    submission_create,
    submission_disqualify,
    submission_hide,
    submission_select_final,
    team_create,
    team_join,
)
from hub.storage import private_storage
from tests.competitions.factories import SCORING, CompetitionFactory, PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import entrant_of, predictions, published, score
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

WINDOW = {
    "name": "初赛",
    "starts_at": timezone.now() - datetime.timedelta(hours=1),
    "ends_at": timezone.now() + datetime.timedelta(days=30),
    "accepted_kinds": ["predictions"],
}


# --- competitions ------------------------------------------------------------------------------
def test_a_host_drafts_adds_a_phase_and_publishes_version_1(host):
    organisation = host.memberships.get().organisation
    competition = competition_create(
        host=organisation, by=host, fields={"slug": "digits", "title": " 手写数字识别 ", "max_team_size": 4}
    )
    assert (competition.status, competition.title) == ("draft", "手写数字识别")
    with pytest.raises(CompetitionRefused) as refused:
        competition_publish(competition=competition, by=host)
    assert set(refused.value.errors) == {"description", "rules", "phases"}

    competition_update(competition=competition, by=host, fields={"description": "识别手写数字", "rules": "规则"})
    phase = phase_create(competition=competition, by=host, fields=WINDOW, scoring=SCORING)
    assert (phase.primary_metric, phase.higher_is_better, phase.extra_columns) == ("accuracy", True, ["f1_macro"])
    assert not published("competitions.competition.published.v1")  # drafts publish nothing

    competition = competition_publish(competition=competition, by=host)
    [event] = published("competitions.competition.published.v1")
    assert event["version"] == 1
    assert event["url"] == "/competitions/digits/"
    assert event["host_organisation_id"] == organisation.pk
    assert event["starts_at"] == phase.starts_at.isoformat()


def test_only_hosts_create_and_change_competitions(host, competition):
    outsider = UserFactory()
    with pytest.raises(NotPermitted):
        competition_create(host=competition.host, by=outsider, fields={"slug": "x", "title": "x"})
    with pytest.raises(NotPermitted):
        competition_update(competition=competition, by=outsider, fields={"title": "改名"})


def test_a_published_competition_changes_in_versions_and_keeps_its_address(host, competition):
    competition_update(competition=competition, by=host, fields={"title": "新标题"})
    competition_update(competition=competition, by=host, fields={"title": "新标题"})  # no change, no version
    assert [e["version"] for e in published("competitions.competition.updated.v1")] == [2]
    with pytest.raises(CompetitionRefused) as refused:
        competition_update(competition=competition, by=host, fields={"slug": "another"})
    assert refused.value.code == "slug_fixed"
    competition_set_status(competition=competition, by=host, status=Competition.Status.RUNNING)
    with pytest.raises(CompetitionRefused):
        competition_set_status(competition=competition, by=host, status=Competition.Status.PUBLISHED)


# --- phases -------------------------------------------------------------------------------------
def test_a_phase_with_an_unknown_metric_or_extra_column_is_refused(host, competition):
    with pytest.raises(PhaseRefused) as refused:
        phase_create(competition=competition, by=host, fields=WINDOW, scoring={**SCORING, "metrics": ["acuracy"]})
    assert "scoring_config" in refused.value.errors
    with pytest.raises(PhaseRefused) as refused:
        phase_create(competition=competition, by=host, fields={**WINDOW, "extra_columns": ["rmse"]}, scoring=SCORING)
    assert "extra_columns" in refused.value.errors


def test_a_phase_must_close_after_it_opens_and_take_a_known_kind(host, competition):
    with pytest.raises(PhaseRefused) as refused:
        phase_create(
            competition=competition,
            by=host,
            fields={**WINDOW, "ends_at": WINDOW["starts_at"], "accepted_kinds": ["exe"]},
            scoring=SCORING,
        )
    assert set(refused.value.errors) >= {"ends_at", "accepted_kinds"}


def test_a_lower_is_better_metric_ranks_that_way_and_a_scoring_change_is_audited(host, competition):
    regression = {"output": "value", "metrics": ["rmse", "mae"]}
    phase = phase_create(competition=competition, by=host, fields=WINDOW, scoring=regression)
    assert (phase.primary_metric, phase.higher_is_better) == ("rmse", False)
    phase_update(phase=phase, by=host, fields={}, scoring={"output": "value", "metrics": ["mae"]})
    assert AuditEntry.objects.get(action="scoring_changed").details["after"]["metrics"] == ["mae"]


# --- teams ----------------------------------------------------------------------------------------
def test_an_entrant_accepts_the_rules_forms_a_team_and_others_join_by_code(competition, entrant):
    with pytest.raises(TeamRefused) as refused:
        team_create(competition=competition, by=entrant, name="星火队")
    assert refused.value.code == "rules_not_accepted"
    team = team_create(competition=competition, by=entrant_of(competition, entrant), name="星火队")
    friend = UserFactory()
    with pytest.raises(TeamRefused) as refused:
        team_join(invite_code=team.invite_code, by=friend)
    assert refused.value.code == "rules_not_accepted"
    assert team_join(invite_code=f" {team.invite_code} ", by=entrant_of(competition, friend)) == team
    assert set(team.members.all()) == {entrant, friend}


def test_an_entrant_is_in_one_team_per_competition(competition, team, entrant):
    with pytest.raises(TeamRefused) as refused:
        team_create(competition=competition, by=entrant, name="第二队")
    assert refused.value.code == "already_in_team"
    other = TeamFactory(competition=competition)
    with pytest.raises(TeamRefused):
        team_join(invite_code=other.invite_code, by=entrant)
    # But a team in another competition is fine.
    other_competition = CompetitionFactory()
    assert team_create(competition=other_competition, by=entrant_of(other_competition, entrant), name="星火队")


def test_a_full_team_takes_nobody_more(competition):
    team = TeamFactory(competition=competition, size_limit=2, members=[UserFactory(), UserFactory()])
    with pytest.raises(TeamRefused) as refused:
        team_join(invite_code=team.invite_code, by=entrant_of(competition))
    assert refused.value.code == "team_full"
    assert TeamMembership.objects.filter(team=team).count() == 2


def test_unknown_codes_taken_names_and_draft_competitions_are_refused(competition, team):
    with pytest.raises(TeamRefused, match="invite code"):
        team_join(invite_code="nope", by=UserFactory())
    with pytest.raises(TeamRefused) as refused:
        team_create(competition=competition, by=entrant_of(competition), name=team.name)
    assert refused.value.code == "name_taken"
    with pytest.raises(TeamRefused):
        team_create(competition=CompetitionFactory(draft=True), by=UserFactory(), name="早鸟队")


def test_a_team_enters_for_its_founders_own_organisation_only(competition, entrant):
    membership = MembershipFactory(user=entrant)
    entrant_of(competition, entrant)
    assert team_create(competition=competition, by=entrant, name="甲", organisation=membership.organisation)
    with pytest.raises(NotPermitted):
        team_create(competition=competition, by=UserFactory(), name="乙", organisation=membership.organisation)


# --- submissions -----------------------------------------------------------------------------------
def test_a_submission_is_stored_privately_with_its_checksum_and_takes_a_slot(phase, team, entrant):
    upload = predictions()
    content = upload.read()
    submission = submission_create(phase=phase, team=team, upload=upload, kind="predictions", by=entrant)
    assert submission.status == "received"
    assert submission.size == len(content)
    assert submission.sha256 == hashlib.sha256(content).hexdigest()
    assert private_storage().open(submission.file.name).read() == content
    assert submission.file.name.startswith("competitions/submissions/") and "predictions" not in submission.file.name
    with pytest.raises(ValueError):
        submission.file.url  # noqa: B018  (private files have no URL)
    assert QuotaDay.objects.get(team=team, phase=phase).used == 1
    [event] = published("competitions.submission.received.v1")
    assert event["submission_id"] == submission.pk and event["file"] == submission.file.name


@pytest.mark.parametrize(
    ("kind", "upload", "code"),
    [
        ("package", predictions(), "kind_not_accepted"),
        ("onnx", predictions(), "wrong_extension"),
        ("predictions", predictions(size=2 * 1024 * 1024), "too_large"),
        ("predictions", SimpleUploadedFile("empty.csv", b""), "empty"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(phase, team, entrant, kind, upload, code):
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=phase, team=team, upload=upload, kind=kind, by=entrant)
    assert refused.value.code == code
    assert not Submission.objects.exists() and not QuotaDay.objects.filter(used__gt=0).exists()
    assert not published("competitions.submission.received.v1")


def test_submissions_after_the_deadline_or_before_the_opening_are_refused(competition, team, entrant):
    over = PhaseFactory(competition=competition, ends_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=over, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert refused.value.code == "phase_closed"
    later = PhaseFactory(competition=competition, starts_at=timezone.now() + datetime.timedelta(hours=1))
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=later, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert refused.value.code == "phase_not_open"


def test_only_team_members_submit_for_a_team(phase, team):
    with pytest.raises(NotPermitted):
        submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=UserFactory())
    assert not Submission.objects.exists()


def test_the_daily_limit_holds_and_a_new_day_brings_new_slots(phase, team, entrant):
    for _ in range(2):
        submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert refused.value.code == "daily_limit"
    assert Submission.objects.count() == 2
    # Yesterday's slots are yesterday's: move them back a day and the team may submit again.
    QuotaDay.objects.update(day=timezone.localdate() - datetime.timedelta(days=1))
    submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)


def test_the_total_limit_counts_every_day(phase, team, entrant):
    Phase.objects.filter(pk=phase.pk).update(total_limit=3)
    QuotaDay.objects.create(team=team, phase=phase, day=timezone.localdate() - datetime.timedelta(days=1), used=2)
    submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert refused.value.code == "total_limit"


def test_a_cancelled_submission_gives_its_slot_back(phase, team, entrant):
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    submission_cancel(submission=submission, by=entrant)
    assert QuotaDay.objects.get(team=team, phase=phase).used == 0
    submission.refresh_from_db()
    assert (submission.status, submission.counts_against_quota) == ("cancelled", False)
    with pytest.raises(SubmissionRefused):
        submission_cancel(submission=submission, by=entrant)


# --- final selection, hiding, disqualifying, closing -----------------------------------------------------
def test_a_team_selects_at_most_the_phase_s_final_count(phase, team, entrant):
    subs = [score(SubmissionFactory(phase=phase, team=team), public=0.5 + i / 10, private=0.5) for i in range(3)]
    submission_select_final(submission=subs[0], by=entrant)
    submission_select_final(submission=subs[1], by=entrant)
    with pytest.raises(SubmissionRefused) as refused:
        submission_select_final(submission=subs[2], by=entrant)
    assert refused.value.code == "selection_full"
    submission_select_final(submission=subs[0], by=entrant, selected=False)
    submission_select_final(submission=subs[2], by=entrant)
    assert set(Submission.objects.filter(selected_for_final=True)) == {subs[1], subs[2]}
    with pytest.raises(NotPermitted):
        submission_select_final(submission=subs[0], by=UserFactory())
    unscored = SubmissionFactory(phase=phase, team=team)
    with pytest.raises(SubmissionRefused):
        submission_select_final(submission=unscored, by=entrant)


def test_hiding_needs_a_host_and_a_reason_and_is_audited(host, phase, team):
    submission = score(SubmissionFactory(phase=phase, team=team), public=0.9)
    with pytest.raises(SubmissionRefused):
        submission_hide(submission=submission, by=host, reason="  ")
    with pytest.raises(NotPermitted):
        submission_hide(submission=submission, by=UserFactory(), reason="泄露")
    submission_hide(submission=submission, by=host, reason="使用了测试集标签")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.reason, entry.submission) == (
        "submission_hidden",
        host,
        "使用了测试集标签",
        submission,
    )


def test_a_disqualified_team_may_not_submit_again(host, phase, team, entrant):
    submission = SubmissionFactory(phase=phase, team=team)
    submission_disqualify(submission=submission, by=host, reason="多账号提交")
    team.refresh_from_db()
    assert team.disqualified and AuditEntry.objects.get().action == "team_disqualified"
    with pytest.raises(SubmissionRefused) as refused:
        submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    assert refused.value.code == "team_disqualified"


def test_a_phase_closes_only_after_its_end_and_once(host, phase):
    with pytest.raises(PhaseRefused) as refused:
        phase_close(phase=phase, by=host)
    assert refused.value.code == "phase_running"
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(NotPermitted):
        phase_close(phase=phase, by=UserFactory())
    phase_close(phase=phase, by=host)
    with pytest.raises(PhaseRefused):
        phase_close(phase=phase, by=host)
    assert AuditEntry.objects.get().action == "phase_closed"

"""The entrants' competition pages: who sees what, what each form and button does, what is refused."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from competitions.models import Baseline, DataFile, RulesAcceptance, Submission, Team, TeamMembership
from competitions.services import phase_close, submission_record_job_event
from services.scorer.models import ScoringJob
from tests.competitions.factories import CompetitionFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import failed, predictions, score
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def en(path: str) -> str:
    """The English page of a path (Chinese is at the root, English under /en/)."""
    return f"/en{path}"


def page(client: Client, url: str, **kwargs) -> str:
    """An English page's HTML, asserting it answered 200."""
    response = client.get(en(url), **kwargs)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def as_user(client: Client, user) -> Client:
    client.force_login(user)
    return client


def accept(competition, user) -> None:
    RulesAcceptance.objects.create(competition=competition, user=user, revision=competition.revision)


def training_file(phase, name: str = "train.csv", content: bytes = b"id,pixels,label\n0,0,0\n") -> DataFile:
    return DataFile.objects.create(
        phase=phase,
        role=DataFile.Role.TRAINING,
        file=ContentFile(content, name=name),
        original_name=name,
        size=len(content),
        sha256="b" * 64,
    )


def hidden_labels(phase) -> DataFile:
    return DataFile.objects.get(phase=phase, role=DataFile.Role.HIDDEN_LABELS)


# --- the listing and visibility -----------------------------------------------------------------
def test_the_listing_shows_public_competitions_filters_by_status_and_never_a_draft(client, host):
    CompetitionFactory(title_en="Open contest", status="running")
    CompetitionFactory(title_en="Finished contest", status="finished")
    CompetitionFactory(title_en="Draft contest", draft=True, host=host.memberships.get().organisation)
    html = page(as_user(client, host), "/competitions/")  # even its host sees no draft in the listing
    assert "Open contest" in html and "Finished contest" in html and "Draft contest" not in html
    html = page(client, "/competitions/?status=finished")
    assert "Finished contest" in html and "Open contest" not in html
    html = page(client, "/competitions/?status=draft")  # not a public status: a field error, no filter
    assert "errorlist" in html and "Open contest" in html and "Draft contest" not in html


def test_an_empty_listing_says_so_and_the_listing_pages(client):
    assert "No competition has been announced yet" in page(client, "/competitions/")
    for n in range(21):
        CompetitionFactory(slug=f"c-{n}", title=f"比赛{n}")
    assert "Page 1 of 2" in page(client, "/competitions/")
    assert "Page 2 of 2" in page(client, "/competitions/?page=2")


def test_a_draft_is_a_404_for_everyone_but_its_hosts(client, host, entrant):
    draft = CompetitionFactory(draft=True, host=host.memberships.get().organisation)
    for tab in ("", "data/", "rules/", "leaderboard/", "team/"):
        assert client.get(en(f"/competitions/{draft.slug}/{tab}")).status_code == 404
        assert as_user(Client(), entrant).get(en(f"/competitions/{draft.slug}/{tab}")).status_code == 404
        assert as_user(Client(), host).get(en(f"/competitions/{draft.slug}/{tab}")).status_code == 200
    manage = f'href="/en/host/competitions/{draft.slug}/"'
    assert manage in as_user(Client(), host).get(en(f"/competitions/{draft.slug}/")).content.decode()
    public = CompetitionFactory(host=draft.host)
    assert manage.replace(draft.slug, public.slug) not in page(
        as_user(Client(), entrant), f"/competitions/{public.slug}/"
    )


def test_the_overview_is_in_english_under_en_and_in_chinese_at_the_root(client, phase):
    competition = phase.competition
    html = page(client, f"/competitions/{competition.slug}/")
    assert "Handwritten digits challenge" in html and "Preliminary round" in html and "Leaderboard" in html
    chinese = client.get(f"/competitions/{competition.slug}/").content.decode()
    assert competition.title in chinese and '<html lang="zh-hans"' in chinese


# --- data and rules -------------------------------------------------------------------------------
def test_hidden_data_is_never_linked_and_training_data_only_after_the_rules_are_accepted(client, phase, entrant):
    train = training_file(phase)
    hidden = hidden_labels(phase)
    url = f"/competitions/{phase.competition.slug}/data/"
    html = page(as_user(client, entrant), url)
    assert "train.csv" in html and "labels.csv" not in html
    assert f"data/{train.pk}/" not in html  # not accepted yet: named, not linked
    assert client.get(en(f"{url}{train.pk}/")).status_code == 404

    accept(phase.competition, entrant)
    html = page(client, url)
    assert f"data/{train.pk}/" in html and f"data/{hidden.pk}/" not in html
    response = client.get(en(f"{url}{train.pk}/"))
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"id,pixels,label")
    assert client.get(en(f"{url}{hidden.pk}/")).status_code == 404  # even asked for by its id


def test_accepting_the_rules_is_stored_once_and_the_page_says_so(client, competition, entrant):
    url = f"/competitions/{competition.slug}/rules/"
    assert "Sign in" in page(client, url)
    assert client.post(en(f"{url}accept/")).status_code == 302  # to the sign-in page
    assert not RulesAcceptance.objects.exists()
    as_user(client, entrant)
    assert "I accept the rules" in page(client, url)
    for _ in range(2):
        response = client.post(en(f"{url}accept/"))
        assert response.status_code == 302 and response["Location"] == en(f"/competitions/{competition.slug}/team/")
    acceptance = RulesAcceptance.objects.get()
    assert (acceptance.user, acceptance.revision) == (entrant, competition.revision)
    assert "You accepted these rules" in page(client, url)


# --- teams ----------------------------------------------------------------------------------------
def test_an_entrant_who_accepted_the_rules_forms_a_team_and_another_joins_by_its_code(client, competition):
    founder, friend = UserFactory(), UserFactory()
    url = en(f"/competitions/{competition.slug}/team/")
    as_user(client, founder)
    response = client.post(url, {"action": "create", "create-name": "星火队"})
    assert response.status_code == 302 and not Team.objects.exists()  # the rules come first
    accept(competition, founder)
    assert client.post(url, {"action": "create", "create-name": "星火队"}).status_code == 302
    team = Team.objects.get()
    html = page(client, f"/competitions/{competition.slug}/team/")
    assert team.invite_code in html and "1 of at most 3" in html

    accept(competition, friend)
    friend_client = as_user(Client(), friend)
    response = friend_client.post(url, {"action": "join", "join-invite_code": "not-a-code"})
    assert response.status_code == 400 and "No team has this invite code" in response.content.decode()
    assert friend_client.post(url, {"action": "join", "join-invite_code": team.invite_code}).status_code == 302
    assert set(team.members.all()) == {founder, friend}


def test_a_full_team_or_a_taken_name_is_a_form_error_and_nothing_is_stored(client, competition):
    team = TeamFactory(competition=competition, name="星火队", members=UserFactory.create_batch(3))
    newcomer = UserFactory()
    accept(competition, newcomer)
    as_user(client, newcomer)
    url = en(f"/competitions/{competition.slug}/team/")
    response = client.post(url, {"action": "join", "join-invite_code": team.invite_code})
    assert response.status_code == 400 and "This team is full" in response.content.decode()
    response = client.post(url, {"action": "create", "create-name": "星火队"})
    assert response.status_code == 400 and "Team name: Choose another." in response.content.decode()
    assert not TeamMembership.objects.filter(user=newcomer).exists() and Team.objects.count() == 1


# --- submitting -----------------------------------------------------------------------------------
def test_the_form_offers_only_the_phases_kinds_and_a_refusal_is_a_form_error_with_nothing_stored(
    client, phase, team, entrant, settings
):
    phase.accepted_kinds = ["predictions"]
    phase.save()
    as_user(client, entrant)
    url = f"/competitions/{phase.competition.slug}/submit/"
    html = page(client, url)
    assert 'value="predictions"' in html and 'value="onnx"' not in html and "<progress" in html
    response = client.post(en(url), {"kind": "predictions", "file": predictions(name="model.onnx")})
    assert response.status_code == 400
    assert "Wrong file type" in response.content.decode() and 'id="error-summary"' in response.content.decode()
    response = client.post(en(url), {"kind": "onnx", "file": predictions()})  # not offered: the form says so
    assert response.status_code == 400
    assert not Submission.objects.exists()
    assert not list((settings.PRIVATE_MEDIA_ROOT / "competitions" / "submissions").glob("*"))


def test_an_accepted_submission_leads_to_its_live_status_page(client, phase, team, entrant):
    as_user(client, entrant)
    response = client.post(
        en(f"/competitions/{phase.competition.slug}/submit/"),
        {"kind": "predictions", "file": predictions(), "description": "基线"},
    )
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == en(f"/competitions/{phase.competition.slug}/submissions/{submission.pk}/")
    html = page(client, f"/competitions/{phase.competition.slug}/submissions/{submission.pk}/")
    assert 'data-status="received"' in html and f"/ws/competitions/submissions/{submission.pk}/" in html
    assert (submission.team, submission.submitted_by, submission.description) == (team, entrant, "基线")


def test_the_daily_limit_is_a_form_error(client, phase, team, entrant):
    as_user(client, entrant)
    url = en(f"/competitions/{phase.competition.slug}/submit/")
    for shift in range(2):
        assert client.post(url, {"kind": "predictions", "file": predictions(shift=shift)}).status_code == 302
    response = client.post(url, {"kind": "predictions", "file": predictions(shift=5)})
    assert response.status_code == 400 and "used its 2 submissions for today" in response.content.decode()
    assert Submission.objects.count() == 2


def test_without_a_team_the_form_sends_the_entrant_to_the_team_page(client, phase, entrant):
    response = as_user(client, entrant).get(en(f"/competitions/{phase.competition.slug}/submit/"))
    assert response.status_code == 302 and response["Location"].endswith("/team/")


# --- my submissions -------------------------------------------------------------------------------
def test_another_teams_submission_is_a_404_and_the_host_sees_every_one(client, phase, team, entrant, host):
    theirs = SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition, members=[UserFactory()]))
    ours = SubmissionFactory(phase=phase, team=team)
    slug = phase.competition.slug
    as_user(client, entrant)
    assert client.get(en(f"/competitions/{slug}/submissions/{theirs.pk}/")).status_code == 404
    assert client.post(en(f"/competitions/{slug}/submissions/{theirs.pk}/cancel/")).status_code == 404
    assert client.get(en(f"/competitions/{slug}/submissions/{ours.pk}/")).status_code == 200
    assert f"#{theirs.pk}" not in page(client, f"/competitions/{slug}/submissions/")
    host_client = as_user(Client(), host)
    assert host_client.get(en(f"/competitions/{slug}/submissions/{theirs.pk}/")).status_code == 200
    assert Client().get(en(f"/competitions/{slug}/submissions/{ours.pk}/")).status_code == 302  # sign in first


def test_private_scores_stay_hidden_from_the_team_until_the_phase_closes(client, phase, team, entrant, host):
    submission = score(SubmissionFactory(phase=phase, team=team), public=0.8125, private=0.6875)
    as_user(client, entrant)
    slug = phase.competition.slug
    for url in (f"/competitions/{slug}/submissions/", f"/competitions/{slug}/submissions/{submission.pk}/"):
        html = page(client, url)
        assert "0.8125" in html and "0.6875" not in html
    phase.ends_at = timezone.now() - datetime.timedelta(minutes=1)
    phase.save()
    phase_close(phase=phase, by=host)
    for url in (f"/competitions/{slug}/submissions/", f"/competitions/{slug}/submissions/{submission.pk}/"):
        assert "0.6875" in page(client, url)


def test_a_failed_submission_shows_its_reason_and_log_and_can_be_neither_selected_nor_cancelled(
    client, phase, team, entrant
):
    submission = SubmissionFactory(phase=phase, team=team)
    submission_record_job_event(event=failed(submission, platform=False))
    html = page(as_user(client, entrant), f"/competitions/{phase.competition.slug}/submissions/")
    assert "1,797 were expected" in html and "End of the log" in html
    assert f"Select #{submission.pk}" not in html and f"Cancel #{submission.pk}" not in html


def test_a_member_selects_a_scored_submission_for_the_final_and_cancels_a_waiting_one(client, phase, team, entrant):
    scored = score(SubmissionFactory(phase=phase, team=team), public=0.5)
    waiting = SubmissionFactory(phase=phase, team=team)
    slug = phase.competition.slug
    as_user(client, entrant)
    html = page(client, f"/competitions/{slug}/submissions/")
    assert f"Select #{scored.pk} for the final" in html and f"Cancel #{waiting.pk}" in html
    assert client.post(en(f"/competitions/{slug}/submissions/{scored.pk}/select/")).status_code == 302
    assert client.post(en(f"/competitions/{slug}/submissions/{waiting.pk}/cancel/")).status_code == 302
    scored.refresh_from_db()
    waiting.refresh_from_db()
    assert scored.selected_for_final and waiting.status == "cancelled"
    response = client.post(en(f"/competitions/{slug}/submissions/{waiting.pk}/select/"), follow=True)
    assert "Only a scored submission can be selected" in response.content.decode()
    assert "Selected for the final ranking: 1 of at most 2" in page(client, f"/competitions/{slug}/submissions/")


def test_no_submission_yet_is_an_empty_state(client, phase, team, entrant):
    html = page(as_user(client, entrant), f"/competitions/{phase.competition.slug}/submissions/")
    assert "Your team has not submitted to this phase yet" in html


# --- the leaderboard ------------------------------------------------------------------------------
def test_the_public_leaderboard_ranks_teams_with_intervals_ties_and_baselines(client, phase):
    first = TeamFactory(competition=phase.competition, name="第一队")
    second = TeamFactory(competition=phase.competition, name="第二队")
    score(SubmissionFactory(phase=phase, team=first), public=0.9, private=0.5, ci=(0.85, 0.95))
    score(SubmissionFactory(phase=phase, team=second), public=0.88, private=0.99, ci=(0.8, 0.9))
    Baseline.objects.create(phase=phase, name="随机猜测", name_en="Random guess", scores={"public": {"accuracy": 0.1}})
    html = page(client, f"/competitions/{phase.competition.slug}/leaderboard/")
    assert html.index("第一队") < html.index("第二队") < html.index("Random guess")
    assert "0.8500 – 0.9500" in html and "statistically tied with the leader" in html
    assert "0.9900" not in html and "Final ranking" not in html  # the private split is secret until the close
    assert "0.9900" not in page(client, f"/competitions/{phase.competition.slug}/leaderboard/?split=private")


def test_after_the_close_the_leaderboard_shows_the_final_private_ranking(client, phase, host):
    first = TeamFactory(competition=phase.competition, name="第一队")
    second = TeamFactory(competition=phase.competition, name="第二队")
    score(SubmissionFactory(phase=phase, team=first), public=0.9, private=0.5)
    score(SubmissionFactory(phase=phase, team=second), public=0.88, private=0.99)
    phase.ends_at = timezone.now() - datetime.timedelta(minutes=1)
    phase.save()
    phase_close(phase=phase, by=host)
    html = page(client, f"/competitions/{phase.competition.slug}/leaderboard/")
    assert "Final ranking" in html and html.index("第二队") < html.index("第一队") and "0.9900" in html


def test_the_live_refresh_gets_the_table_alone_and_an_empty_board_says_so(client, phase):
    url = en(f"/competitions/{phase.competition.slug}/leaderboard/?phase={phase.pk}")
    fragment = client.get(url, headers={"X-Fragment": "leaderboard"})
    assert fragment.status_code == 200 and "X-Fragment" in fragment["Vary"]
    html = fragment.content.decode()
    assert "No team has a score yet" in html and "<html" not in html
    assert "/ws/competitions/phases/" in page(client, f"/competitions/{phase.competition.slug}/leaderboard/")


def test_a_waiting_submission_shows_its_place_in_the_scorers_queue_and_the_panel_refreshes_alone(
    client, phase, team, entrant
):
    ahead, ours = SubmissionFactory(phase=phase), SubmissionFactory(phase=phase, team=team)
    for submission in (ahead, ours):
        ScoringJob.objects.create(submission_id=submission.pk, phase_id=phase.pk, queue="score-cpu", payload={})
    url = en(f"/competitions/{phase.competition.slug}/submissions/{ours.pk}/")
    fragment = as_user(client, entrant).get(url, headers={"X-Fragment": "status"})
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert "Place in the queue: 2." in html and 'data-status="received"' in html


def test_the_leaderboard_pages_and_keeps_the_leaders_tie_mark_on_later_pages(client, phase, monkeypatch):
    monkeypatch.setattr("competitions.views.LEADERBOARD_SIZE", 1)
    for name, public, ci in (("第一队", 0.9, (0.85, 0.95)), ("第二队", 0.88, (0.8, 0.9))):
        score(
            SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition, name=name)),
            public=public,
            ci=ci,
        )
    url = f"/competitions/{phase.competition.slug}/leaderboard/"
    first = page(client, url)
    assert "第一队" in first and "第二队" not in first and "Page 1 of 2" in first
    second = page(client, f"{url}?page=2")
    assert "第二队" in second and "第一队" not in second and "statistically tied with the leader" in second
    assert "第二队" in page(client, f"{url}?page=99")  # past the end: the last page, not an error


def test_after_an_action_only_a_path_on_this_site_is_followed(client, phase, team, entrant):
    waiting = SubmissionFactory(phase=phase, team=team)
    url = en(f"/competitions/{phase.competition.slug}/submissions/{waiting.pk}/cancel/")
    response = as_user(client, entrant).post(url, {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"].startswith(en("/competitions/"))

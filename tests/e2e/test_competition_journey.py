"""An entrant's competition journey in a browser: accept the rules, join a team by its invite code, upload
a predictions file with the progress bar, then watch the scorer's job events arrive without a reload
(services → on commit → Redis channel layer → websocket → the page fetches its fragments)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from playwright.sync_api import Browser, Page, expect

from competitions.models import Submission
from competitions.services import submission_record_job_event
from tests.competitions.factories import CompetitionFactory, PhaseFactory, TeamFactory
from tests.competitions.support import finished, started
from tests.factories import UserFactory


@pytest.fixture
def private_media(settings, tmp_path, monkeypatch) -> None:
    """This test and its server keep private files (hidden labels, uploads) in one fresh place. Requested
    before live_server_url: the server's environment is copied when it starts."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    monkeypatch.setenv("PRIVATE_MEDIA_ROOT", str(settings.PRIVATE_MEDIA_ROOT))


@pytest.fixture
def site(private_media, live_server_url: str) -> str:
    """The English site."""
    return f"{live_server_url}/en"


def sign_in(browser: Browser, site: str, username: str) -> Page:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("correct horse battery")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))
    return page


def apply(event) -> None:
    """Apply a job event as the competitions consumer would: in a transaction (the push goes out on commit)
    and on another thread (Playwright's event loop runs on this one, and pushes are sent synchronously)."""

    def run() -> None:
        try:
            with transaction.atomic():
                submission_record_job_event(event=event)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def test_an_entrant_joins_submits_and_sees_the_score_and_leaderboard_arrive_live(browser, site):
    competition = CompetitionFactory(title_en="Handwritten digits challenge", status="running")
    PhaseFactory(competition=competition, accepted_kinds=["predictions"])
    team = TeamFactory(competition=competition, name="星火队", members=[UserFactory()])
    UserFactory(username="lilei")
    base = f"{site}/competitions/{competition.slug}"

    page = sign_in(browser, site, "lilei")
    page.goto(f"{base}/rules/")
    page.get_by_role("button", name="I accept the rules").click()
    expect(page).to_have_url(f"{base}/team/")
    page.get_by_label("Invite code").fill(team.invite_code)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#invite-code")).to_have_text(team.invite_code)

    page.get_by_role("navigation", name="Competition sections").get_by_role("link", name="Submit").click()
    page.get_by_label("Predictions file (CSV or JSON)").check()
    content = "id,prediction\n" + "".join(f"{i},{i}\n" for i in range(4))
    page.locator("#id_file").set_input_files(
        {"name": "predictions.csv", "mimeType": "text/csv", "buffer": content.encode()}
    )
    # The progress bar's last value, kept across the navigation that follows the upload.
    page.evaluate(
        """() => { const bar = document.getElementById('upload-progress');
            new MutationObserver(() => sessionStorage.setItem('uploaded', String(bar.value)))
              .observe(bar, {attributes: true}); }"""
    )
    page.get_by_role("button", name="Upload and submit").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(base)}/submissions/\d+/$"))
    assert page.evaluate("sessionStorage.getItem('uploaded')") == "100"
    status = page.locator("#submission-status [data-status]")
    expect(status).to_have_text("Received")
    submission = Submission.objects.get()
    assert (submission.team, submission.original_name) == (team, "predictions.csv")

    # Both sockets open before the events, and the page is never reloaded after this mark.
    expect(page.locator("#submission-status")).to_have_attribute("data-live-connected", "true")
    expect(page.locator("#leaderboard")).to_have_attribute("data-live-connected", "true")
    page.evaluate("window.sameDocument = true")

    apply(started(submission))
    expect(status).to_have_attribute("data-status", "running")
    apply(finished(submission, public=0.75))
    expect(status).to_have_attribute("data-status", "scored")
    expect(page.locator("#submission-status [data-score=public]")).to_have_text("0.7500")
    row = page.locator(f"#leaderboard tr[data-team='{team.pk}']")
    expect(row).to_contain_text("星火队")
    expect(row).to_contain_text("0.7500")
    assert page.evaluate("window.sameDocument") is True
    page.context.close()

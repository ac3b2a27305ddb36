"""The scoring path end to end on the real stack, for the digits demo: a predictions file and an ONNX model
submitted by web form, by API and by CLI each reach `scored` through the relay, the scorer's dispatcher, a
real Celery worker (the sandbox for the model) and the competitions consumer, and a browser watching the
leaderboard sees every team arrive without reloading."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from competitions import demo
from competitions.models import Competition, DataFile, Submission
from competitions.services import rules_accept, team_create
from hub.accounts import demo as accounts_demo
from hub.accounts.models import User
from tests.factories import UserFactory
from tests.support import wait_for

WANZHI = Path(sys.executable).parent / "wanzhi"  # the console script pyproject.toml declares
PASSWORD = "correct horse battery"


@pytest.fixture
def private_media(settings, tmp_path, monkeypatch) -> Path:
    """One private directory for this test, its server and its services (hidden data, uploads)."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    monkeypatch.setenv("PRIVATE_MEDIA_ROOT", str(settings.PRIVATE_MEDIA_ROOT))
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def scoring_stack(private_media, live_server_url, start_process) -> str:
    """The demo loaded, and every process of the scoring path running as `make run` runs it."""
    list(accounts_demo.load())
    list(demo.load())
    env = {"PRIVATE_MEDIA_ROOT": str(private_media)}
    for service in ("relay", "scorer", "competitions"):
        start_process("run_service", service, env=env)
    start_process(
        *(sys.executable, "-m", "celery", "-A", "hub", "worker", "--pool", "solo", "--queues", "score-cpu"),
        *("--hostname", "e2e@test", "--without-heartbeat", "--without-mingle", "--without-gossip"),
        env=env,
        manage=False,
    )
    return live_server_url


def entrant_with_team(username: str, team_name: str, competition: Competition) -> User:
    user = UserFactory(username=username)
    rules_accept(competition=competition, by=user)
    team_create(competition=competition, by=user, name=team_name)
    return user


def scored(submission_id: int) -> bool:
    status, reason = Submission.objects.values_list("status", "failure_reason").get(pk=submission_id)
    assert status != Submission.Status.FAILED, reason
    return status == Submission.Status.SCORED


def test_web_form_api_and_cli_submissions_are_scored_and_the_leaderboard_updates_live(
    browser: Browser, scoring_stack: str, tmp_path: Path
):
    site = f"{scoring_stack}/en"
    competition = Competition.objects.get(slug=demo.SLUG)
    files = {}
    for data_file in DataFile.objects.filter(phase__competition=competition, role=DataFile.Role.TRAINING):
        files[data_file.original_name] = tmp_path / data_file.original_name
        files[data_file.original_name].write_bytes(data_file.file.open("rb").read())
    predictions, model = files["baseline_predictions.csv"], files["baseline_model.onnx"]

    # The public leaderboard, open in its own tab for the whole test: it must never reload.
    board = browser.new_context(locale="en-GB").new_page()
    board.goto(f"{site}/competitions/{demo.SLUG}/leaderboard/")
    expect(board.locator("#leaderboard")).to_have_attribute("data-live-connected", "true")
    board.evaluate("window.sameDocument = true")

    # 1. Web form, as the demo entrant (whose team the demo made).
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill("entrant")
    page.locator("#id_password").fill(accounts_demo.demo_password())
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))
    for kind_label, path in (("Predictions file (CSV or JSON)", predictions), ("ONNX model", model)):
        page.goto(f"{site}/competitions/{demo.SLUG}/submit/")
        page.get_by_label(kind_label).check()
        page.locator("#id_file").set_input_files(str(path))
        page.get_by_role("button", name="Upload and submit").click()
        expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))
        expect(page.locator("#submission-status [data-status]")).to_have_attribute(
            "data-status", "scored", timeout=60_000
        )
    team_row = board.locator("#leaderboard tr", has_text="星火队")
    expect(team_row).to_be_visible(timeout=30_000)

    # 2. The API, as an entrant of another team: token, multipart upload, status polled until scored.
    entrant_with_team("api-entrant", "接口队", competition)
    api = f"{scoring_stack}/api/v1"
    token = requests.post(f"{api}/auth/token/", data={"username": "api-entrant", "password": PASSWORD}, timeout=10)
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Token {token.json()['token']}"}
    for kind, path in (("predictions", predictions), ("onnx", model)):
        with path.open("rb") as file:
            response = requests.post(
                f"{api}/competitions/{demo.SLUG}/submissions/",
                headers=headers,
                data={"kind": kind},
                files={"file": (path.name, file)},
                timeout=30,
            )
        assert response.status_code == 201, response.text
        submission_id = response.json()["id"]
        wait_for(lambda: scored(submission_id), timeout=60)  # noqa: B023  (called before the loop moves on)
    expect(board.locator("#leaderboard tr", has_text="接口队")).to_be_visible(timeout=30_000)

    # 3. The CLI, as a third team's entrant: `wanzhi submit` uploads, follows the status and exits 0 once scored.
    entrant_with_team("cli-entrant", "命令行队", competition)
    cli_token = requests.post(f"{api}/auth/token/", data={"username": "cli-entrant", "password": PASSWORD}, timeout=10)
    env = {"HOME": str(tmp_path / "home"), "LANG": "C.UTF-8", "WANZHI_URL": scoring_stack}
    env["WANZHI_TOKEN"] = cli_token.json()["token"]
    for kind, path in (("predictions", predictions), ("onnx", model)):
        run = subprocess.run(
            [str(WANZHI), "submit", demo.SLUG, str(path), "--kind", kind, "--interval", "0.3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "scored" in run.stdout
    expect(board.locator("#leaderboard tr", has_text="命令行队")).to_be_visible(timeout=30_000)

    assert Submission.objects.filter(status=Submission.Status.SCORED).count() == 6
    assert set(Submission.objects.values_list("kind", flat=True)) == {"predictions", "onnx"}
    assert board.evaluate("window.sameDocument") is True
    board.context.close()
    page.context.close()

"""The `wanzhi` CLI, run as the installed command against a real server (uvicorn on the test database)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from competitions.models import Baseline, Phase, Submission, Team
from competitions.services import submission_record_job_event
from hub.accounts.models import User
from infra.run import wait_http, web_command
from infra.stack import free_port
from services.scorer.events import JobProgress
from tests.competitions.factories import SubmissionFactory, TeamFactory
from tests.competitions.support import failed, score, started
from tests.support import wait_for

WANZHI = Path(sys.executable).parent / "wanzhi"  # the console script pyproject.toml declares
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


@pytest.fixture
def serve(start_process: Callable[..., subprocess.Popen], settings) -> Callable[[int], subprocess.Popen]:
    """Start the site on a port, serving the test database and this test's private files."""

    def start(port: int) -> subprocess.Popen:
        files = {"PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT), "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
        process = start_process(*web_command(port), manage=False, env=files)
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        return process

    return start


@pytest.fixture
def server(serve) -> str:
    port = free_port()
    serve(port)
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def cli(tmp_path: Path, server: str, start_process) -> Callable[..., subprocess.Popen]:
    """Start `wanzhi ARGS` with a home of its own (so the saved config is this test's), in English."""
    assert WANZHI.exists(), "the console script is missing: pip install -e . --no-deps"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        clean = {"HOME": str(home), "XDG_CONFIG_HOME": "", "LANG": "C.UTF-8", "WANZHI_URL": server, "WANZHI_TOKEN": ""}
        return start_process(str(WANZHI), *args, manage=False, env={**clean, **(env or {})})

    return run


def output(process: subprocess.Popen) -> str:
    return process.log.read_text(encoding="utf-8")  # type: ignore[attr-defined]


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    return process.wait(timeout), output(process)


def prints(process: subprocess.Popen, text: str) -> Callable[[], bool]:
    def printed() -> bool:
        assert process.poll() is None or text in output(process), output(process)
        return text in output(process)

    printed.__name__ = f"the CLI to print {text!r}"
    return printed


def test_submit_uploads_with_a_progress_bar_and_follows_the_scoring_live(
    cli, tmp_path, competition, phase: Phase, team: Team, entrant: User
):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,prediction\n" + "".join(f"{i},{i}\n" for i in range(4)))
    token = Token.objects.create(user=entrant).key

    process = cli("submit", competition.slug, str(predictions), env={"WANZHI_TOKEN": token})
    wait_for(prints(process, "received (position 1 in the queue)"))
    submission = Submission.objects.get()
    assert (submission.team, submission.original_name) == (team, "predictions.csv")

    # The scorer's job events, applied as its consumer would while the CLI polls.
    submission_record_job_event(event=started(submission))
    wait_for(prints(process, "running 0%"))
    submission_record_job_event(
        event=JobProgress(job_id="job-1", submission_id=submission.pk, percent=60, message="scoring")
    )
    wait_for(prints(process, "running 60%"))
    score(submission, public=0.75, private=0.5)

    code, text = finish(process)
    assert code == 0, text
    assert "Uploading [##############################] 100%" in text
    assert f"Submission {submission.pk} received (predictions.csv" in text
    assert "scored — public: accuracy 0.7500, f1_macro 0.7500" in text
    assert "private" not in text  # the phase is open: private scores stay hidden
    lines = [line for line in text.splitlines() if not line.startswith("Uploading")]
    steps = [next(i for i, line in enumerate(lines) if line.startswith(s)) for s in ("received", "running", "scored")]
    assert steps == sorted(steps)


def test_a_failed_submission_prints_the_reason_and_exits_1(cli, tmp_path, competition, phase, team, entrant):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,prediction\n" + "".join(f"{i},{i}\n" for i in range(4)))
    process = cli(
        "submit",
        competition.slug,
        str(predictions),
        "--interval",
        "0.2",
        env={"WANZHI_TOKEN": Token.objects.create(user=entrant).key},
    )
    wait_for(lambda: Submission.objects.exists())
    submission_record_job_event(event=failed(Submission.objects.get(), platform=False))
    code, text = finish(process)
    assert code == 1, text
    assert "failed: predictions.csv has 3 rows; 1,797 were expected." in text


def test_following_waits_out_a_server_restart(cli, serve, tmp_path, competition, phase, team, entrant):
    port = free_port()
    first = serve(port)
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,prediction\n" + "".join(f"{i},{i}\n" for i in range(4)))
    env = {"WANZHI_URL": f"http://127.0.0.1:{port}", "WANZHI_TOKEN": Token.objects.create(user=entrant).key}
    process = cli("submit", competition.slug, str(predictions), env=env)
    wait_for(prints(process, "received (position 1"))

    first.terminate()
    first.wait(10)
    wait_for(prints(process, "trying again (1/5)"))
    serve(port)
    score(Submission.objects.get(), public=0.5)
    code, text = finish(process)
    assert code == 0, text
    assert "cannot reach" in text and "scored — public: accuracy 0.5000" in text


def test_refusals_and_network_errors_are_one_clear_line_and_a_nonzero_exit(cli, tmp_path, competition, phase, entrant):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,prediction\n0,0\n")
    token = Token.objects.create(user=entrant).key

    code, text = finish(cli("submit", competition.slug, str(predictions), env={"WANZHI_TOKEN": token}))
    assert (code, text.splitlines()[-1]) == (2, "error: You are not in a team of this competition.")

    TeamFactory(competition=competition, members=[entrant])
    code, text = finish(
        cli("submit", competition.slug, str(predictions), "--kind", "onnx", env={"WANZHI_TOKEN": token})
    )
    assert code == 2
    assert "error: A ONNX model must be a file ending in .onnx." in text and "file: Wrong file type." in text
    assert not Submission.objects.exists()

    code, text = finish(cli("submit", competition.slug, str(predictions)))
    assert code == 2 and "run `wanzhi login`" in text

    code, text = finish(cli("leaderboard", competition.slug, "--url", f"http://127.0.0.1:{free_port()}"))
    assert code == 3 and text.startswith("error: cannot reach http://127.0.0.1:")
    assert "Traceback" not in text


def test_login_keeps_the_token_for_the_owner_only_and_a_bad_password_is_refused(cli, tmp_path, entrant):
    code, text = finish(cli("login", "--username", entrant.username, "--password", "wrong"))
    assert code == 2
    assert text.strip() == "error: Unable to log in with provided credentials."
    config = tmp_path / "home" / ".config" / "wanzhi" / "config.json"
    assert not config.exists()

    code, text = finish(cli("login", "--username", entrant.username, env={"WANZHI_PASSWORD": PASSWORD}))
    assert code == 0, text
    assert f"as {entrant.username}" in text
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert Token.objects.get(user=entrant).key in config.read_text()


def test_leaderboard_prints_a_table_with_baselines_and_ties(cli, competition, phase):
    leader = TeamFactory(competition=competition, name="深蓝队")
    close = TeamFactory(competition=competition, name="Sparks")
    score(SubmissionFactory(phase=phase, team=leader), public=0.9, ci=(0.85, 0.95))
    score(SubmissionFactory(phase=phase, team=close), public=0.88, ci=(0.8, 0.9))
    Baseline.objects.create(phase=phase, name="Logistic regression", scores={"public": {"accuracy": 0.5}})

    code, text = finish(cli("leaderboard", competition.slug))
    assert code == 0, text
    lines = text.splitlines()
    assert lines[0] == "Public leaderboard, accuracy (higher is better) — 2 teams, page 1 of 1"
    assert lines[1].split() == ["Rank", "Team", "Score", "95%", "CI", "Entries", "Submitted"]
    assert lines[3].split()[:3] == ["1", "深蓝队", "0.9000"]
    assert lines[4].split()[:4] == ["2", "≈", "Sparks", "0.8800"]
    assert lines[5].split()[:4] == ["—", "Logistic", "regression", "(baseline)"]
    # The columns line up although Chinese characters take two places.
    assert lines[3].index("0.9000") - lines[3].index("深蓝队") + 3 == lines[4].index("0.8800") - lines[4].index(
        "Sparks"
    )

    code, text = finish(cli("leaderboard", competition.slug, "--private"))
    assert code == 2 and "error: The private leaderboard is revealed when the phase closes." in text

"""`make run` (python -m infra.run) on a fresh data dir: serves the site and both admins; Ctrl-C stops it all."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from hub.events.registry import consumers
from infra.run import background_commands
from infra.stack import free_port
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
STACK_VARS = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "ELASTICSEARCH_URL", "STRIPE_API_BASE")


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_make_run_serves_the_site_and_both_admins_and_ctrl_c_stops_everything(tmp_path):
    # A fresh machine: no stack URLs set, so it starts its own servers under tmp_path.
    env = {key: value for key, value in os.environ.items() if key not in STACK_VARS and key != "KAFKA_TOPIC_PREFIX"}
    env.pop("WANZHI_ENV_FILE", None)
    port = free_port()
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.run",
            "--dir",
            str(tmp_path / "stack"),
            "--ports",
            "auto",
            "--http-port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        printed = "".join(output)
        assert "Ctrl-C stops everything" in printed, printed
        assert "admin admin / wanzhi-demo" in " ".join(printed.split())  # the admin login is printed
        descendants = psutil.Process(run.pid).children(recursive=True)
        base = f"http://127.0.0.1:{port}"
        assert status_of(f"{base}/") == 200
        assert status_of(f"{base}/en/") == 200  # the demo's English translation
        assert status_of(f"{base}/scenarios/") == 200
        assert status_of(f"{base}/competitions/digits/") == 200  # the demo competition
        assert status_of(f"{base}/api/v1/competitions/digits/leaderboard/") == 200
        assert status_of(f"{base}/funds/") == 200  # the demo call
        assert status_of(f"{base}/search/?q=AI") == 200
        assert status_of(f"{base}/django-admin/login/") == 200
        assert status_of(f"{base}/cms/login/") == 200
        assert status_of(f"{base}/readyz") == 200
        # The fake Stripe signs its events for this site's webhook: a customer made there is posted here.
        stack_env = dict(line.split("=", 1) for line in (tmp_path / "stack" / "stack.env").read_text().splitlines())
        customers = urllib.request.Request(
            f"{stack_env['STRIPE_API_BASE']}/v1/customers",
            data=b"name=probe",
            headers={"Authorization": "Bearer sk_test_probe"},
        )
        urllib.request.urlopen(customers, timeout=10).close()
        stripe_log = tmp_path / "stack" / "stripe.log"
        wait_for(lambda: 'webhook "customer.created" successfully delivered' in stripe_log.read_text(), timeout=20)
    finally:
        run.send_signal(signal.SIGINT)
        assert run.wait(60) == 0
    time.sleep(1)
    alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert "stopping" in run.stdout.read()


def test_make_run_runs_the_relay_every_consumer_and_beat_in_one_process(tmp_path):
    services = [argv for argv in background_commands(tmp_path, gpus=[]).values() if "run_service" in argv]
    assert len(services) == 1
    names = services[0][services[0].index("run_service") + 1 :]
    # The relay, every consumer group a context registers, the service packages that consume events, beat.
    assert sorted(names) == sorted({"relay", *consumers(), "notifier", "indexer", "beat"})
    # No second beat: the Celery worker does not embed one.
    assert not any("--beat" in argv or "beat" in argv[3:5] for argv in background_commands(tmp_path, gpus=[]).values())

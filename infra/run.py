"""`make run`: the whole hub on this machine.

Starts the local stack, migrates, creates the Kafka topics, loads demo data, then runs the ASGI
server, a Celery worker and beat, the scoring workers, and one process for the outbox relay and every
event consumer; prints the URLs and logins and waits.
Ctrl-C (or SIGTERM) stops everything it started, the stack included; data is kept in .stack/.

    python -m infra.run [--dir .stack] [--ports default|auto] [--http-port 8000] [--no-demo]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from infra.stack import DEFAULT_DIR, REPO_ROOT, Stack, StackError, webhook_register
from services.scorer.gpu import GpuDevice, gpu_env, gpus_detect

PYTHON = sys.executable
MANAGE = [PYTHON, str(REPO_ROOT / "manage.py")]
# The event services share one process, a thread each (`run_service` with several names): a Django
# process is ~220 MiB, most of it the same modules (bench/footprint.py). "scorer" dispatches received
# submissions to the scoring queues; "competitions" applies the job events; "funds" runs the fast track
# (closed phases → invitations). `run_service NAME` still runs one alone, where one should scale by itself.
SERVICES = ("relay", "notifier", "indexer", "scorer", "competitions", "funds", "beat")


class RunError(Exception):
    pass


def web_command(http_port: int, *options: str) -> list[str]:
    """The ASGI server: HTTP and websockets (also what the browser tests and bench/portal.py serve)."""
    return [PYTHON, "-m", "uvicorn", "hub.asgi:application", "--host", "127.0.0.1", "--port", str(http_port), *options]


def scoring_workers(gpus: list[GpuDevice]) -> dict[str, list[str]]:
    """One CPU scoring worker, and one per GPU pinned to it (CUDA_VISIBLE_DEVICES, through `env`). Each
    takes one job at a time in a prefork child, so Celery's hard time limit can end a stuck job."""
    worker = [PYTHON, "-m", "celery", "-A", "hub", "worker", "--concurrency", "1", "--loglevel", "INFO"]
    commands = {"score-cpu": [*worker, "--queues", "score-cpu", "--hostname", "score-cpu@%h"]}
    for gpu in gpus:
        pin = [f"{name}={value}" for name, value in gpu_env(device=gpu).items()]
        commands[f"score-gpu{gpu.index}"] = [
            "env",
            *pin,
            *worker,
            *("--queues", "score-gpu", "--hostname", f"score-gpu{gpu.index}@%h"),
        ]
    return commands


def background_commands(data_dir: Path, *, gpus: list[GpuDevice]) -> dict[str, list[str]]:
    """Everything but the web server. In development one Celery worker (a thread pool) takes the default
    queue and beat runs as a thread of the services process (services.beat): that saves a Django process
    against a prefork pool with its own beat, which is what production runs (one beat for many workers).
    Scoring has workers of its own."""
    worker = [PYTHON, "-m", "celery", "-A", "hub", "worker", "--pool", "threads", "--concurrency", "2"]
    return {
        "worker": [*worker, "--queues", "default", "--loglevel", "INFO"],
        **scoring_workers(gpus),
        "services": [*MANAGE, "run_service", *SERVICES],
    }


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([*MANAGE, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RunError(f"manage.py {' '.join(args)} failed: {tail[0]}")
    return result.stdout


def wait_http(url: str, timeout: float) -> float:
    """Seconds until `url` answers 200; RunError after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (our own localhost URL)
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise RunError(f"{url} did not answer within {timeout:.0f}s")


class Supervisor:
    """Starts the children, watches them, and stops them all (and the stack) on the way out."""

    def __init__(self, stack: Stack, env: dict[str, str], log_dir: Path) -> None:
        self.stack, self.env, self.log_dir = stack, env, log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, commands: dict[str, list[str]]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, argv in commands.items():
            log = open(self.log_dir / f"{name}.log", "ab")
            self.children[name] = subprocess.Popen(
                argv,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()

    def watch(self, stop: list[bool]) -> None:
        while not stop:
            for name, child in self.children.items():
                if child.poll() is not None:
                    raise RunError(f"{name} exited with {child.returncode}; see {self.log_dir / (name + '.log')}")
            time.sleep(0.5)

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.stack.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.run", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--ports", choices=("default", "auto"), default="default")
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("HTTP_PORT", "8000")))
    parser.add_argument("--no-demo", action="store_true", help="skip loading demo data")
    args = parser.parse_args(argv)

    started = time.monotonic()
    stack = Stack(args.dir, ports=args.ports)
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    supervisor: Supervisor | None = None
    try:
        urls = stack.up()
        env = {**os.environ, **urls, "WANZHI_ENV_FILE": str(args.dir / "stack.env")}
        env.setdefault("DJANGO_DEBUG", "1")
        env.setdefault("SITE_URL", f"http://127.0.0.1:{args.http_port}")
        env.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(args.dir / "celerybeat-schedule"))
        # A fresh secret per run for the fake Stripe's webhooks: every process gets it through the environment.
        env.setdefault("STRIPE_WEBHOOK_SECRET", f"whsec_{secrets.token_hex(16)}")
        print("stack up:", ", ".join(f"{key}={value}" for key, value in urls.items()), flush=True)
        # Topics do not depend on the schema: create them while the database migrates. The system checks
        # run once, in migrate (~0.8 s a command otherwise).
        topics = subprocess.Popen(
            [*MANAGE, "kafka_topics", "--skip-checks"], env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL
        )
        manage("migrate", "--noinput", env=env)
        if topics.wait() != 0:
            raise RunError("manage.py kafka_topics failed: is the Kafka broker answering?")
        logins = "" if args.no_demo else manage("load_demo", "--skip-checks", env=env)
        supervisor = Supervisor(stack, env, args.dir / "logs")
        # The web server first: on two cores, six Django processes booting at once slow each other down.
        supervisor.start({"web": web_command(args.http_port)})
        base = f"http://127.0.0.1:{args.http_port}"
        wait_http(f"{base}/", timeout=60)
        if "STRIPE_API_BASE" not in os.environ:  # the stack's fake Stripe: have it post its events here
            webhook_register(
                api_base=urls["STRIPE_API_BASE"],
                url=f"{base}/webhooks/stripe/",
                secret=env["STRIPE_WEBHOOK_SECRET"],
            )
        gpus = gpus_detect()
        supervisor.start(background_commands(args.dir, gpus=gpus))
        print(
            f"\nWanzhi is ready in {time.monotonic() - started:.1f}s\n"
            f"  site            {base}/   (English: {base}/en/)\n"
            f"  competitions    {base}/competitions/   (digits demo: {base}/competitions/digits/)\n"
            f"  fund calls      {base}/funds/   (managers and reviewers: {base}/funds/manage/)\n"
            f"  search          {base}/search/   scenario calls {base}/scenarios/\n"
            f"  Django admin    {base}/django-admin/\n"
            f"  Wagtail admin   {base}/cms/\n"
            f"  API schema      {base}/api/schema/   search API {base}/api/v1/search/\n"
            f"  CLI             .venv/bin/wanzhi login --url {base}   then: wanzhi submit digits FILE\n"
            f"  dev mailbox     {base}/dev/mail/\n"
            f"  readiness       {base}/readyz\n"
            f"  scoring         1 CPU worker, {len(gpus)} GPU worker(s)\n"
            f"  event services  {', '.join(SERVICES)} (one process)\n"
            f"  logs            {args.dir / 'logs'}/\n"
            f"\nDemo logins:\n{logins}\nCtrl-C stops everything.",
            flush=True,
        )
        supervisor.watch(stop)
        return 0
    except KeyboardInterrupt:
        return 0
    except (StackError, RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        if supervisor is not None:
            supervisor.stop()
        else:
            stack.down()


if __name__ == "__main__":
    sys.exit(main())

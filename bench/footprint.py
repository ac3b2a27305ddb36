"""Footprint of `make run`: summed memory of all it starts, idle and after an events load; seconds to ready.

Run from the repository root:  .venv/bin/python bench/footprint.py   (about 2–3 minutes; make's output
goes to bench/out/footprint-make-{1,2}.log, the hub's to bench/out/footprint-stack/)

1. Wipes bench/out/footprint-stack and runs `make run RUN_ARGS="--dir <it> --ports auto --http-port <free>"`
   with no stack URLs in the environment, so it initialises and starts its own PostgreSQL, Redis, Kafka,
   search and fake Stripe, migrates a fresh database and loads the demo data (a first start, warm venv).
   ready_s = wall time from launching make until GET / first answers 200 (polled every 0.1 s).
2. Once settled (10 s after ready, then 5 s without a process starting or ending), sums the memory of
   every descendant of make plus the PostgreSQL postmaster (pg_ctl daemonizes it, so it is not a
   descendant; its pid is in <dir>/stack.json) and all its children.
   stack_rss_idle_mb is summed RSS in MiB; PostgreSQL's shared buffers and forked Celery children share
   pages, which summed RSS counts once per process, so PSS (shares split between processes) and USS
   (private pages only) are printed beside it.
3. Load: 50,000 OrganisationCreated events published through the outbox (publish() in transactions of
   1,000, bodies ~0.5–1 KB) by a separate Django process; the running relay sends them to Kafka and the
   notifier (a thread of the same process) reads the `accounts` topic. Once no outbox row is unsent and
   the services' CPU is back near what it was at idle (five Kafka consumers polling cost a few % of a core
   even then), stack_rss_loaded_mb is measured the same way (the peak while loading is printed too).
4. Ctrl-C (SIGINT to make's process group, as a terminal would) stops everything; anything left is
   stopped by pid. Then a second `make run` on the same data dir measures ready_s_warm_data (no initdb,
   migrations already applied) and is stopped the same way.

The last line printed is one JSON object with every figure. No goal is asserted: the figures are
compared with the issue's goals (idle ≤ 1,500 MB, ready ≤ 30 s) in the text above it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make hub/ and infra/ importable

from bench.workload import organisation_created  # noqa: E402
from infra.stack import free_port  # noqa: E402

DATA_DIR = ROOT / "bench" / "out" / "footprint-stack"  # bench/out is git-ignored
STAMP = ROOT / ".venv" / ".installed"
STACK_URL_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "ELASTICSEARCH_URL",
    "STRIPE_API_BASE",
    "WANZHI_ENV_FILE",
)
READY_LINE = "Ctrl-C stops everything."
READY_TIMEOUT = 180.0
SETTLE_SECONDS = 10.0
STABLE_SECONDS = 5.0  # ... and then no process started or ended for this long (Celery forks late when busy)
LOAD_EVENTS = 50_000
PUBLISH_TX_SIZE = 1_000
FIRST_ORG_ID = 2_000_001  # far from the demo data's ids: these organisations exist only as events
QUIET_CPU_PCT = 5.0  # event services within this of their idle CPU for QUIET_SECONDS in a row = idle again
QUIET_SECONDS = 3
MIB = 1024 * 1024

# (role, substring of the command line); the first match wins, a process matching none takes its parent's.
# `manage.py run_service` is named by its services instead (service_role).
ROLES = (
    ("redis", "redis-server"),
    ("kafka", "tansu"),
    ("search", "noida-db"),
    ("stripe", "infra.localstripe_server"),
    ("web", "uvicorn"),
    ("scoring", "--queues score-"),  # infra.run's scoring workers (a prefork parent and its child each)
    ("worker", "celery -A hub worker"),
    ("beat", "celery -A hub beat"),
    ("launcher", "infra.run"),
    ("launcher", "make run"),
)
ROLE_ORDER = (
    "postgres",
    "redis",
    "kafka",
    "search",
    "stripe",
    "web",
    "worker",
    "beat",
    "scoring",
    "relay",
    "notifier",
    "services",
)
EVENT_ROLES = {"relay", "notifier", "services"}  # what moves the load's events, in either layout


# --------------------------------------------------------------------------- launching make run


def run_env() -> dict[str, str]:
    """Our environment without stack URLs: with one set, infra.stack would pass it through, not start it."""
    return {k: v for k, v in os.environ.items() if k not in STACK_URL_VARS and not k.startswith("MAKE")}


def make_run_argv(port: int) -> list[str]:
    return ["make", "run", f"RUN_ARGS=--dir {DATA_DIR} --ports auto --http-port {port}"]


def ensure_warm_venv() -> str:
    """Make sure `make run` would not reinstall the venv (that would time pip, not start-up)."""

    def would_install() -> bool:
        dry = subprocess.run([*make_run_argv(0), "-n"], cwd=ROOT, capture_output=True, text=True)
        return "pip install" in dry.stdout

    if not would_install():
        return "venv stamp is current: make run starts without reinstalling"
    check = subprocess.run([sys.executable, "-c", "import hub, wagtail, celery"], cwd=ROOT, capture_output=True)
    if check.returncode != 0:
        raise SystemExit("make run would reinstall the venv and it cannot import hub: run `make run` once first")
    STAMP.touch()  # the venv is installed, only the stamp is missing or older than pyproject.toml
    if would_install():
        raise SystemExit("make run still wants to reinstall after touching .venv/.installed")
    return "touched .venv/.installed (stale or missing; the venv already imports hub, wagtail, celery)"


class MakeRun:
    """One `make run` in its own process group; its output lines are kept with their arrival time."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.lines: list[tuple[float, str]] = []
        self.steps: dict[str, float] = {}  # manage.py subcommand -> seconds after launch it started
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            make_run_argv(port),
            cwd=ROOT,
            env=run_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group, so SIGINT to the group is exactly a terminal's Ctrl-C
        )
        self._reader = threading.Thread(target=self._read, args=(log,), daemon=True)
        self._reader.start()

    def _read(self, log: Path) -> None:
        assert self.proc.stdout is not None
        with log.open("w") as f:
            for line in self.proc.stdout:
                self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))
                f.write(line)
                f.flush()

    def seen(self, text: str) -> float | None:
        """Seconds after launch at which a line containing `text` was printed, or None."""
        return next((t for t, line in self.lines if text in line), None)

    def fail_if_exited(self) -> None:
        if self.proc.poll() is not None:
            tail = " | ".join(line for _, line in self.lines[-5:])
            raise RuntimeError(f"make run exited with {self.proc.returncode}: {tail}")

    def wait_home_200(self) -> float:
        """Seconds from launch until GET / answers 200."""
        url = f"http://127.0.0.1:{self.port}/"
        deadline = self.started + READY_TIMEOUT
        while time.monotonic() < deadline:
            self.fail_if_exited()
            self.note_steps()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            time.sleep(0.1)
        raise RuntimeError(f"{url} gave no 200 within {READY_TIMEOUT:.0f}s")

    def note_steps(self) -> None:
        """Remember when each `manage.py <step>` infra.run runs before its children started: the
        start of one step is the end of the one before, which splits ready_s without touching infra."""
        with contextlib.suppress(psutil.Error):
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error, IndexError):
                    argv = p.cmdline()
                    at = next((i for i, arg in enumerate(argv) if arg.endswith("manage.py")), None)
                    if at is not None and argv[at + 1] != "run_service":
                        self.steps.setdefault(argv[at + 1], self.since_launch(p))

    def since_launch(self, p: psutil.Process) -> float:
        """Seconds from make's start to `p`'s, both from the kernel's start times: time.time() against
        psutil's create_time() can be a second off (the boot time it adds is whole seconds)."""
        return p.create_time() - psutil.Process(self.proc.pid).create_time()

    def wait_line(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while (at := self.seen(text)) is None:
            self.fail_if_exited()
            if time.monotonic() > deadline:
                raise RuntimeError(f"make run did not print {text!r} within {timeout:.0f}s")
            time.sleep(0.1)
        return at


# --------------------------------------------------------------------------- which processes, how much


def postmaster_pid() -> int | None:
    """stack.json is {"parts": {"postgres": {"pid": ..., "port": ..., "url": ...}, ...}}."""
    try:
        return json.loads((DATA_DIR / "stack.json").read_text())["parts"]["postgres"]["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def service_role(cmdline: str) -> str:
    """For `manage.py run_service NAME ...`: NAME when it runs one service, "services" when several share
    the process (infra.run's relay and consumers); "" for any other command."""
    _, found, names = cmdline.partition(" run_service ")
    if not found:
        return ""
    names = names.split()
    return names[0] if len(names) == 1 else "services"


def stack_processes(make_pid: int) -> dict[int, tuple[str, psutil.Process]]:
    """pid -> (role, process) for make's descendants plus the postmaster and its children."""
    procs: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(make_pid)
        procs += [root, *root.children(recursive=True)]
    pg_pids: set[int] = set()
    if (pm := postmaster_pid()) is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster = psutil.Process(pm)
            pg = [postmaster, *postmaster.children(recursive=True)]
            procs += pg
            pg_pids = {p.pid for p in pg}
    by_pid = {p.pid: p for p in procs}
    roles: dict[int, str] = {}

    def role_of(p: psutil.Process) -> str:
        if p.pid in roles:
            return roles[p.pid]
        if p.pid in pg_pids:
            role = "postgres"
        else:
            try:
                cmdline = " ".join(p.cmdline())
                ppid = p.ppid()
            except psutil.Error:
                cmdline, ppid = "", 0
            role = service_role(cmdline) or next((r for r, sig in ROLES if sig in cmdline), "")
            if not role:
                role = role_of(by_pid[ppid]) if ppid in by_pid else "other"
        roles[p.pid] = role
        return role

    return {pid: (role_of(p), p) for pid, p in by_pid.items()}


def measure(procs: dict[int, tuple[str, psutil.Process]], *, full: bool = True) -> list[dict[str, Any]]:
    """One row per live process: role, pid, name, rss (and uss/pss when `full`) in bytes."""
    rows = []
    for pid, (role, p) in procs.items():
        try:
            if full:
                mem = p.memory_full_info()
                row = {"rss": mem.rss, "uss": mem.uss, "pss": getattr(mem, "pss", 0)}
            else:
                row = {"rss": p.memory_info().rss}
            row.update(role=role, pid=pid, name=p.name())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue  # a short-lived backend or manage.py call that ended in between
        rows.append(row)
    return rows


def total_mib(rows: list[dict[str, Any]], field: str) -> float:
    return round(sum(r.get(field, 0) for r in rows) / MIB, 1)


def by_role(rows: list[dict[str, Any]], field: str) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for r in rows:
        sums[r["role"]] += r.get(field, 0) / MIB
    order = [*ROLE_ORDER, "launcher", "other"]
    # A role not listed (a service run alone by a later infra.run) goes before the launcher.
    rank = {role: (order.index(role) if role in order else len(ROLE_ORDER) - 0.5, role) for role in sums}
    return {role: round(sums[role], 1) for role in sorted(sums, key=rank.__getitem__)}


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}: {len(rows)} processes")
    print(f"  {'role':<9} {'pid':>7}  {'name':<16} {'RSS MiB':>8} {'PSS MiB':>8} {'USS MiB':>8}")
    roles = by_role(rows, "rss")
    for role in roles:
        mine = sorted((r for r in rows if r["role"] == role), key=lambda r: -r["rss"])
        for r in mine:
            print(
                f"  {role:<9} {r['pid']:>7}  {r['name'][:16]:<16} {r['rss'] / MIB:8.1f} "
                f"{r['pss'] / MIB:8.1f} {r['uss'] / MIB:8.1f}"
            )
        if len(mine) > 1:
            print(
                f"  {'':<9} {'':>7}  {'= ' + role:<16} {sum(r['rss'] for r in mine) / MIB:8.1f} "
                f"{sum(r['pss'] for r in mine) / MIB:8.1f} {sum(r['uss'] for r in mine) / MIB:8.1f}"
            )
    print(
        f"  {'TOTAL':<9} {'':>7}  {'':<16} {total_mib(rows, 'rss'):8.1f} "
        f"{total_mib(rows, 'pss'):8.1f} {total_mib(rows, 'uss'):8.1f}"
    )


# --------------------------------------------------------------------------- the events load


def stack_env() -> dict[str, str]:
    """Environment for Django processes talking to this stack: the URLs from <dir>/stack.env."""
    env = run_env()
    env.update(
        WANZHI_ENV_FILE=str(DATA_DIR / "stack.env"),
        DJANGO_SETTINGS_MODULE="hub.settings",
        DJANGO_DEBUG="0",  # DEBUG would keep every one of the 50,000 INSERTs in connection.queries
        LOG_LEVEL="WARNING",
    )
    return env


def database_url() -> str:
    for line in (DATA_DIR / "stack.env").read_text().splitlines():
        if line.startswith("DATABASE_URL="):
            return line.split("=", 1)[1]
    raise RuntimeError(f"no DATABASE_URL in {DATA_DIR / 'stack.env'}")


def publish_events(count: int) -> None:
    """--publish mode (a child process, so the load is not measured as our own): write `count` events."""
    import django

    django.setup()
    from django.db import transaction

    from hub.events.publish import publish

    started = time.perf_counter()
    last = FIRST_ORG_ID + count
    for first in range(FIRST_ORG_ID, last, PUBLISH_TX_SIZE):
        with transaction.atomic():
            for org_id in range(first, min(first + PUBLISH_TX_SIZE, last)):
                publish(organisation_created(org_id), key=org_id)
    print(json.dumps({"published": count, "seconds": time.perf_counter() - started}))


def outbox_counts(conn: Any) -> tuple[int, int, float]:
    """(unsent rows, our rows, their average body size in bytes)."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL), "
        "count(*) FILTER (WHERE type = 'accounts.organisation.created.v1'), "
        "coalesce(avg(octet_length(body)) FILTER (WHERE type = 'accounts.organisation.created.v1'), 0) "
        "FROM events_outboxevent"
    ).fetchone()
    return int(row[0]), int(row[1]), float(row[2])


def cpu_seconds(procs: dict[int, tuple[str, psutil.Process]], roles: set[str]) -> float:
    total = 0.0
    for role, p in procs.values():
        if role in roles:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
    return total


def run_load(make: MakeRun, *, idle_cpu_pct: float) -> dict[str, Any]:
    """Publish the events, follow the drain, wait for the event services to go quiet; peak RSS on the way."""
    import psycopg

    publisher = subprocess.Popen(
        [sys.executable, __file__, "--publish", str(LOAD_EVENTS)],
        cwd=ROOT,
        env=stack_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    peak = 0.0
    drained_at = None
    try:
        with psycopg.connect(database_url(), autocommit=True) as conn:
            while True:
                make.fail_if_exited()
                peak = max(peak, total_mib(measure(stack_processes(make.proc.pid), full=False), "rss"))
                unsent, ours, body = outbox_counts(conn)
                if publisher.poll() is not None:
                    if publisher.returncode != 0:
                        raise RuntimeError(f"publisher failed: {publisher.stderr.read()[-500:]}")  # type: ignore[union-attr]
                    if unsent == 0 and ours >= LOAD_EVENTS:
                        drained_at = time.monotonic() - started
                        break
                if time.monotonic() - started > 240:
                    raise RuntimeError(f"outbox still has {unsent} unsent rows after 240 s")
                time.sleep(0.5)
    finally:
        if publisher.poll() is None:
            publisher.kill()
        out, _ = publisher.communicate()
    published = json.loads(out.strip().splitlines()[-1])
    quiet_after = wait_quiet(make, idle_cpu_pct=idle_cpu_pct)
    return {
        "publish_s": round(published["seconds"], 1),
        "drained_s": round(drained_at, 1),
        "quiet_s": round(quiet_after, 1),
        "body_bytes_avg": round(body),
        "peak_rss_mb": peak,
    }


def wait_quiet(make: MakeRun, *, idle_cpu_pct: float, timeout: float = 60.0) -> float:
    """Seconds until the event services use under `idle_cpu_pct` + QUIET_CPU_PCT of a core for
    QUIET_SECONDS in a row: an empty outbox does not mean the notifier has read everything the relay sent."""
    started = time.monotonic()
    procs = stack_processes(make.proc.pid)
    quiet = 0
    before = cpu_seconds(procs, EVENT_ROLES)
    while quiet < QUIET_SECONDS and time.monotonic() - started < timeout:
        time.sleep(1.0)
        after = cpu_seconds(procs, EVENT_ROLES)
        quiet = quiet + 1 if 100 * (after - before) < idle_cpu_pct + QUIET_CPU_PCT else 0
        before = after
    return time.monotonic() - started


def settle(make: MakeRun, timeout: float = 60.0) -> float:
    """Wait SETTLE_SECONDS, then until no process has started or ended for STABLE_SECONDS; returns the
    seconds waited. The Celery workers fork their pool child and beat some seconds after they start, later
    on a busy machine: a fixed wait measured them before they forked in one run and after in the next."""
    started = time.monotonic()
    time.sleep(SETTLE_SECONDS)
    pids, stable_since = set(stack_processes(make.proc.pid)), time.monotonic()
    while time.monotonic() - stable_since < STABLE_SECONDS and time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = set(stack_processes(make.proc.pid))
        if now != pids:
            pids, stable_since = now, time.monotonic()
    return time.monotonic() - started


def idle_cpu(make: MakeRun, seconds: float = 5.0) -> float:
    """% of a core the event services use at idle (their Kafka consumers poll all the time)."""
    procs = stack_processes(make.proc.pid)
    before = cpu_seconds(procs, EVENT_ROLES)
    time.sleep(seconds)
    return round(100 * (cpu_seconds(procs, EVENT_ROLES) - before) / seconds, 1)


# --------------------------------------------------------------------------- stopping


def stop(make: MakeRun) -> list[str]:
    """Ctrl-C as a terminal sends it; then stop by pid whatever is still there. Returns what was left."""
    procs = stack_processes(make.proc.pid)  # taken now: after make exits, the tree cannot be found again
    with contextlib.suppress(ProcessLookupError):
        os.killpg(make.proc.pid, signal.SIGINT)
    try:
        make.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.proc.pid, signal.SIGKILL)
        make.proc.wait()
    alive = [(role, p) for role, p in procs.values() if is_alive(p)]
    left = [f"{role}:{p.pid}" for role, p in alive]
    if any(role == "postgres" for role, _ in alive):
        from infra.stack import Stack, StackError

        with contextlib.suppress(StackError):
            Stack(DATA_DIR, ports="auto").down()  # pg_ctl stop, run as the user PostgreSQL runs as
    for _, p in alive:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, still = psutil.wait_procs([p for _, p in alive if is_alive(p)], timeout=5)
    for p in still:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return left


def is_alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --------------------------------------------------------------------------- the run


def start_and_time(log_name: str) -> tuple[MakeRun, dict[str, float]]:
    """Launch make run; return it and when each start-up step began, in seconds after launch."""
    # Checked before every start: someone may touch pyproject.toml meanwhile, and pip is not start-up.
    print(ensure_warm_venv())
    make = MakeRun(free_port(), DATA_DIR.parent / log_name)
    try:
        ready = make.wait_home_200()
        make.wait_line(READY_LINE, timeout=30)
    except BaseException:  # including Ctrl-C: never leave a half-started hub behind
        stop(make)
        raise
    if any("pip install" in line for _, line in make.lines):
        print("WARNING: make run reinstalled the venv, so this ready_s includes pip")
    phases = {"stack up": make.seen("stack up:") or 0.0, **make.steps}
    web = [p for role, p in stack_processes(make.proc.pid).values() if role == "web"]
    if web:  # the supervisor starts every child at once, right after the last manage.py step
        phases["children started"] = make.since_launch(web[0])
    phases["first 200"] = ready
    return make, {name: round(at, 1) for name, at in phases.items()}


def describe_phases(phases: dict[str, float]) -> str:
    """'first 200 from / after 38.2 s: stack 1.6 s, migrate 20.1 s, ...': how long each step took.

    "stack up" ends the first span; every later mark starts a span that lasts until the next mark.
    """
    marks = sorted((at, name) for name, at in phases.items() if name not in ("stack up", "first 200"))
    marks = marks or [(phases["stack up"], "the rest")]  # steps too short to be seen by the 0.1 s poll
    ends = [at for at, _ in marks[1:]] + [phases["first 200"]]
    spans = [f"stack {phases['stack up']:.1f} s"]
    for (at, name), end in zip(marks, ends, strict=True):
        label = "web boot (all children start at once)" if name == "children started" else name
        spans.append(f"{label} {end - at:.1f} s")
    return f"first 200 from / after {phases['first 200']:.1f} s: " + ", ".join(spans)


def machine_load() -> str:
    """Other work on this shared 2-core machine skews every timing here: say how busy it was."""
    ours = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["name", "cmdline"]) if p.pid not in ours]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)  # primes the counter; the next call covers the sleep below
    time.sleep(1.0)
    busy = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if (pct := p.cpu_percent(None)) >= 10:
                argv = p.info["cmdline"] or [p.info["name"]]
                busy.append(f"{' '.join(argv)[:60]} ({pct:.0f}%)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: load average {load} on {psutil.cpu_count()} cores; busy now: {'; '.join(busy) or 'nothing'}"


def second_start() -> dict[str, float]:
    """The everyday start: data dir already initialised and migrated. Extra figure: a failure here
    is printed, and the first start's figures are still reported."""
    print("\nsecond start (same data dir):")
    print(machine_load())
    make = None
    try:
        make, phases = start_and_time("footprint-make-2.log")
        print(f"  {describe_phases(phases)}")
        return phases
    except RuntimeError as exc:
        print(f"  failed: {exc}")
        return {}
    finally:
        if make is not None:
            print(f"stopped again; left running: {', '.join(stop(make)) or 'nothing'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish", type=int, metavar="N", help="internal: publish N events and exit")
    args = parser.parse_args()
    if args.publish:
        publish_events(args.publish)
        return 0

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started in the background by a shell: make and infra.run would inherit the ignored SIGINT and our
        # Ctrl-C would stop nothing (make killed after a minute, its children left to be stopped by pid).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print(machine_load())
    shutil.rmtree(DATA_DIR, ignore_errors=True)  # a first start: initdb, every migration, demo data
    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(make_run_argv(0)).replace("--http-port 0", "--http-port <free port>")
    print(f"fresh data dir {DATA_DIR.relative_to(ROOT)} (wiped); command: {command}")

    make, phases = start_and_time("footprint-make-1.log")
    try:
        print(f"\nfirst start (fresh data dir, warm venv): {describe_phases(phases)}")
        settled = settle(make)
        idle = measure(stack_processes(make.proc.pid))
        print_table(f"idle, {settled:.0f} s after ready", idle)
        services_idle_cpu = idle_cpu(make)
        print(f"event services' CPU at idle: {services_idle_cpu} % of a core")

        print(f"\nload: publishing {LOAD_EVENTS:,} events through the outbox ...")
        load = run_load(make, idle_cpu_pct=services_idle_cpu)
        print(
            f"  published in {load['publish_s']} s, outbox drained {load['drained_s']} s after the "
            f"start, event services quiet {load['quiet_s']} s later; bodies "
            f"{load['body_bytes_avg']} B on average; peak summed RSS while loading "
            f"{load['peak_rss_mb']:.1f} MiB"
        )
        loaded = measure(stack_processes(make.proc.pid))
        print_table("after the load", loaded)
    finally:
        left = stop(make)
    print(f"\nstopped with Ctrl-C; left running after make exited: {', '.join(left) or 'nothing'}")

    phases2 = second_start()

    result = {
        "stack_rss_idle_mb": total_mib(idle, "rss"),
        "stack_rss_loaded_mb": total_mib(loaded, "rss"),
        "ready_s": phases["first 200"],
        "ready_s_warm_data": phases2.get("first 200"),
        "stack_pss_idle_mb": total_mib(idle, "pss"),
        "stack_uss_idle_mb": total_mib(idle, "uss"),
        "stack_pss_loaded_mb": total_mib(loaded, "pss"),
        "stack_uss_loaded_mb": total_mib(loaded, "uss"),
        "stack_rss_peak_load_mb": load["peak_rss_mb"],
        "processes_idle": len(idle),
        "services_idle_cpu_pct": services_idle_cpu,
        "rss_by_role_idle_mb": by_role(idle, "rss"),
        "pss_by_role_idle_mb": by_role(idle, "pss"),
        "rss_by_role_loaded_mb": by_role(loaded, "rss"),
        "start_steps_s": phases,
        "start_steps_warm_data_s": phases2,
        "load": load,
    }
    print(
        f"\nidle: {result['stack_rss_idle_mb']:,.0f} MiB summed RSS (goal ≤ 1,500), "
        f"{result['stack_pss_idle_mb']:,.0f} MiB PSS; after the load: "
        f"{result['stack_rss_loaded_mb']:,.0f} MiB RSS; "
        f"ready in {result['ready_s']} s on a fresh data dir (goal ≤ 30), "
        f"{result['ready_s_warm_data']} s on the second start (same data)"
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

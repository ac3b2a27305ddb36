"""Event backbone benchmark: outbox relay throughput against raw kafka-python, and commit → handler latency.

Run from the repository root:  .venv/bin/python bench/events.py   (about 3 minutes)

It starts its own PostgreSQL + tansu Kafka through infra.stack (data under bench/out/stack-events),
migrates a fresh database, uses a fresh topic prefix, and stops everything it started at the end.

1. Relay throughput. 50,000 OrganisationCreated events (~0.7 KB CloudEvents, 50,000 keys) are written
   with publish() in transactions of 1,000. Each round makes that backlog visible in one commit to a
   warm relay process (`manage.py run_service relay`, so the relay does not share our GIL) and times
   until no unsent row is left. Baseline, interleaved with the relay rounds: kafka-python sending the
   same keys and bodies with the relay's producer config (hub.events.kafka.new_producer) to a fresh
   topic with the same partition count, timed send-all + flush. Median of 3 rounds each.
2. End-to-end latency at a steady 500 events/s: one event per transaction (paced on a monotonic
   schedule), relay in its process, the "bench" consumer group in another process whose handler
   stamps time.time(); latency = handler time − the publisher's time.time() right after commit.
   The Kafka record timestamp (the relay's send(), 1 ms resolution) and the time the consumer's poll()
   returned split it into relay pickup, fetch, and apply stages.

Try settings without editing the services (figures are printed for whatever is passed):
    --consumer-config '{"fetch_max_wait_ms": 50}'   overrides for hub.events.kafka.new_consumer
    --poll-timeout-ms 100                          Consumer.run(poll_timeout_ms=...)
    --relay-config '{"linger_ms": 0}'              producer overrides for the relay (runs Relay in
                                                   this script instead of manage.py run_service)
    --rate 200                                     events/s for the latency run
    --only latency | throughput
    EVENTS_RELAY_BATCH_SIZE=5000 (any EVENTS_* setting) in the environment reaches the relay too.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make hub/, services/ and infra/ importable

from bench.workload import organisation_created  # noqa: E402

DATA_DIR = ROOT / "bench" / "out" / "stack-events"  # bench/out is git-ignored
ORG_CREATED = "accounts.organisation.created.v1"
CONSUMER = "bench"
BACKLOG_EVENTS = 50_000
PUBLISH_TX_SIZE = 1_000
ROUNDS = 3
WARMUP_MESSAGES = 300
RATE = 500  # events/s for the latency run (--rate)
MEASURE_SECONDS = 20.0
POLL_SECONDS = 0.05
LATENCY_FIRST_ID = 1_000_001  # keeps latency events apart from the backlog's ids 1..50,000


# --------------------------------------------------------------------------- set-up


def start_stack() -> tuple[Any, dict[str, str]]:
    """PostgreSQL and Kafka of our own; the settings do not need Redis for anything measured here."""
    from infra.stack import Stack

    stack = Stack(DATA_DIR, ports="auto", fast=True, parts=("postgres", "kafka"))
    return stack, stack.up()


def create_database(server_url: str) -> tuple[str, str]:
    """A fresh database on the stack's server (its data dir outlives runs); returns (name, url)."""
    import psycopg
    from psycopg import sql

    name = f"bench_events_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, f"{server_url.rsplit('/', 1)[0]}/{name}"


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def django_stack(data_dir: Path) -> Iterator[None]:
    """PostgreSQL and Redis up under `data_dir`, a fresh database migrated, Django set up in this process
    (DEBUG off); all stopped and dropped after. For benchmarks that measure Django code in process."""
    from infra.stack import Stack

    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(data_dir, ports="auto", fast=True, parts=("postgres", "redis"))
    urls = stack.up()
    database = None
    try:
        database, database_url = create_database(urls["DATABASE_URL"])
        os.environ.update(urls)
        os.environ["DATABASE_URL"] = database_url
        os.environ["WANZHI_ENV_FILE"] = str(data_dir / "no-such.env")  # never read a dev stack's URLs
        os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
        os.environ["DJANGO_DEBUG"] = "false"  # DEBUG keeps every query in memory
        os.environ["STATIC_MANIFEST"] = "0"  # pages link static files without a collectstatic run
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django
        from django.core.management import call_command

        django.setup()
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"stack up (PostgreSQL, Redis); database migrated in {time.perf_counter() - started:.1f} s")
        yield
    finally:
        try:
            if database:
                from django.db import connections

                connections.close_all()
                drop_database(urls["DATABASE_URL"], database)
        finally:
            stack.down()


def configure_env(urls: dict[str, str], database_url: str) -> None:
    """Environment for Django here and for every process we start; must precede django.setup()."""
    os.environ.update(urls)
    os.environ["DATABASE_URL"] = database_url
    os.environ["KAFKA_TOPIC_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}."
    os.environ["WANZHI_ENV_FILE"] = str(DATA_DIR / "no-such.env")  # never read a dev stack's URLs
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def setup_django() -> None:
    import django

    django.setup()
    import hub.accounts.events  # noqa: F401  registers the event types we publish

    # kafka-python warns whenever a network task takes >100 ms, which a busy 2-core box does often.
    logging.getLogger("kafka").setLevel(logging.ERROR)


class Children:
    """Processes this benchmark starts; each logs to DATA_DIR/<name>.log and is stopped by stop_all()."""

    def __init__(self, servers: dict[str, int]) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.servers = servers  # the stack's server PIDs, for CPU accounting only

    def pids(self) -> dict[str, int]:
        return {**{name: proc.pid for name, proc in self.procs.items()}, **self.servers}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (DATA_DIR / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def check(self, name: str) -> None:
        """Fail now, with the log's tail, if a child died; beats waiting for a timeout."""
        code = self.procs[name].poll()
        if code is not None:
            tail = (DATA_DIR / f"{name}.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{name} exited with {code}: " + " | ".join(tail))

    def stop(self, name: str, timeout: float = 15.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: run_service and --serve stop their loop and close cleanly
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def start_relay(children: Children, relay_config: dict[str, Any]) -> None:
    """The real service process; with producer overrides, the same Relay run from this script."""
    if relay_config:
        argv = python_argv(__file__, "--serve", "relay", "--relay-config", json.dumps(relay_config))
    else:
        argv = python_argv("manage.py", "run_service", "relay")
    children.start("relay", argv)


# --------------------------------------------------------------------------- events and the database


def publish_one(event: Any, key: int) -> None:
    from django.db import transaction

    from hub.events.publish import publish

    with transaction.atomic():
        publish(event, key=key)


def sql_value(query: str, params: list[Any] | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def unsent() -> int:
    # Same predicate as the partial index outbox_unsent: an index-only count, cheap enough at 20 Hz.
    return sql_value("SELECT count(*) FROM events_outboxevent WHERE sent_at IS NULL")


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, children: Children) -> float:
    """Poll every POLL_SECONDS; return the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        for name in children.procs:
            children.check(name)
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_SECONDS)
    return time.monotonic()


def warm_relay(children: Children) -> None:
    """Events no bench handler wants (so the latency consumer ignores them), through the running relay:
    proves topics, producer connection, metadata and shard locks are in place before any timing."""
    from hub.accounts.events import UserRegistered

    for user_id in range(1, WARMUP_MESSAGES + 1):
        publish_one(UserRegistered(user_id=user_id, username=f"预热用户{user_id}", recipients=[1]), key=user_id)
    wait_until(lambda: unsent() == 0, timeout=60, what="the relay to send its warm-up events", children=children)


# --------------------------------------------------------------------------- 1. throughput


def build_backlog() -> dict[str, float]:
    """Write the 50,000 events with publish() while no relay runs, then park them in bench_backlog so
    each round can re-insert exactly these rows in one commit once the relay is running and warm."""
    from django.db import connection, transaction

    from hub.events.publish import publish

    started = time.perf_counter()
    for first in range(1, BACKLOG_EVENTS + 1, PUBLISH_TX_SIZE):
        with transaction.atomic():
            for org_id in range(first, min(first + PUBLISH_TX_SIZE, BACKLOG_EVENTS + 1)):
                publish(organisation_created(org_id), key=org_id)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_backlog AS SELECT id, type, key, shard, body FROM events_outboxevent")
        cursor.execute("DELETE FROM events_outboxevent")
        cursor.execute(
            "SELECT avg(octet_length(body)), min(octet_length(body)), max(octet_length(body)) FROM bench_backlog"
        )
        avg, low, high = cursor.fetchone()
    print(
        f"outbox: {BACKLOG_EVENTS:,} events written with publish() ({PUBLISH_TX_SIZE:,} per transaction) "
        f"at {BACKLOG_EVENTS / elapsed:,.0f} events/s; bodies {avg:.0f} B on average ({low}–{high} B), "
        f"{BACKLOG_EVENTS:,} distinct keys"
    )
    return {"publish_eps": BACKLOG_EVENTS / elapsed, "body_avg": float(avg)}


def backlog_messages() -> list[tuple[bytes, bytes]]:
    """(key, body) exactly as the relay sends them, in outbox order."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT key, body FROM bench_backlog ORDER BY id")
        return [(key.encode(), body.encode()) for key, body in cursor.fetchall()]


def round_topic(kind: str, n: int) -> str:
    """A fresh topic for every round, so no round writes after another one's data."""
    from django.conf import settings

    return f"{settings.KAFKA_TOPIC_PREFIX}tp-{kind}-{n}"


def create_round_topics() -> None:
    """Every topic the throughput rounds use, created before any producer starts.

    kafka-python 3.0.12 never tracks a topic it first saw in its bootstrap metadata; once it is sent
    to a topic created later, its metadata requests cover only that one, the older topics lose their
    leaders, and the sender thread spins at ~100% of a core for as long as the producer lives. A relay
    sending to a topic made mid-run would pay that; production topics all exist before it starts.
    """
    from django.conf import settings
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from hub.events.topics import topic_for_event, topic_specs

    # Same partition count as the topic the relay really writes OrganisationCreated to.
    partitions = next(s.partitions for s in topic_specs() if s.name == topic_for_event(ORG_CREATED))
    names = [round_topic(kind, n) for kind in ("raw", "relay") for n in range(ROUNDS + 1)]
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, client_id="bench-admin")
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names])
    finally:
        admin.close()


def raw_round(producer: Any, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """Seconds for kafka-python to send every message and have all of them acknowledged."""
    from services.relay.relay import HEADERS

    started = time.perf_counter()
    futures = [producer.send(topic, key=key, value=value, headers=HEADERS) for key, value in messages]
    producer.flush()
    for future in futures:
        future.get(timeout=0)  # raises if any send failed
    return time.perf_counter() - started


def relay_round(topic: str, children: Children) -> float:
    """Seconds from the commit that makes the backlog visible until the relay has marked all of it sent."""
    from django.db import connection, transaction

    from hub.events.publish import NOTIFY_CHANNEL

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_outboxevent (event_id, type, topic, key, shard, body, created_at) "
            "SELECT gen_random_uuid(), type, %s, key, shard, body, now() FROM bench_backlog ORDER BY id",
            [topic],
        )
        cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")  # what publish() does: wakes the relay on commit
    committed = time.monotonic()
    done = wait_until(lambda: unsent() == 0, timeout=180, what="the relay to drain the backlog", children=children)
    return done - committed


def prune_outbox() -> None:
    """What outbox_prune does in production; here it makes every relay round start from the same table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_outboxevent WHERE sent_at IS NOT NULL")
        cursor.execute("VACUUM ANALYZE events_outboxevent")


def measure_throughput(children: Children, backlog: dict[str, float]) -> dict[str, Any]:
    from hub.events.kafka import close_quietly, new_producer, track_topics

    messages = backlog_messages()
    pids = {"bench": os.getpid(), **children.pids()}
    seconds: dict[str, list[float]] = {"raw": [], "relay": []}
    cpu: dict[str, dict[str, float]] = {"raw": {}, "relay": {}}

    producer = new_producer()  # the relay's exact producer config
    track_topics(producer, [round_topic("raw", n) for n in range(ROUNDS + 1)])
    try:
        raw_round(producer, round_topic("raw", 0), messages[:WARMUP_MESSAGES])  # round 0: warm-up
        rounds: dict[str, Callable[[str], float]] = {
            "raw": lambda topic: raw_round(producer, topic, messages),
            "relay": lambda topic: relay_round(topic, children),
        }
        for n in range(1, ROUNDS + 1):
            # Interleaved, so drift on this shared 2-core machine hits both sides alike.
            for kind, run in rounds.items():
                before = cpu_seconds(pids)
                took = run(round_topic(kind, n))
                after = cpu_seconds(pids)
                seconds[kind].append(took)
                for name in after:
                    cpu[kind][name] = cpu[kind].get(name, 0.0) + after[name] - before.get(name, 0.0)
                print(f"  round {n} {kind:<5} {BACKLOG_EVENTS / took:8,.0f} events/s  ({took:.2f} s)")
                if kind == "relay":
                    prune_outbox()
    finally:
        close_quietly(producer)

    eps = {kind: [BACKLOG_EVENTS / s for s in values] for kind, values in seconds.items()}
    result: dict[str, Any] = {
        "relay_eps": round(statistics.median(eps["relay"])),
        "raw_eps": round(statistics.median(eps["raw"])),
        "relay_eps_range": [round(min(eps["relay"])), round(max(eps["relay"]))],
        "raw_eps_range": [round(min(eps["raw"])), round(max(eps["raw"]))],
        "publish_eps": round(backlog["publish_eps"]),
        "body_bytes_avg": round(backlog["body_avg"]),
    }
    result["relay_ratio"] = round(result["relay_eps"] / result["raw_eps"], 3)
    for kind in ("relay", "raw"):
        result[f"{kind}_cpu_pct"] = {name: round(100 * used / sum(seconds[kind])) for name, used in cpu[kind].items()}
    print(
        f"relay throughput: {result['relay_eps']:,} events/s, median of {ROUNDS} "
        f"(range {result['relay_eps_range'][0]:,}–{result['relay_eps_range'][1]:,}); a warm relay process "
        "draining the backlog, from its commit until no row is unsent"
    )
    print(
        f"raw kafka-python: {result['raw_eps']:,} events/s, median of {ROUNDS} "
        f"(range {result['raw_eps_range'][0]:,}–{result['raw_eps_range'][1]:,}); same keys, bodies, headers "
        "and producer config, send-all + flush"
    )
    print(f"relay_ratio = relay / raw = {result['relay_ratio']:.2f}  (goal ≥ 0.70)")
    print(f"  CPU, % of one core (2 cores = 200%): relay rounds {format_cpu(result['relay_cpu_pct'])}")
    print(f"  CPU, % of one core (2 cores = 200%): raw rounds {format_cpu(result['raw_cpu_pct'])}")
    return result


def format_cpu(shares: dict[str, int]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in shares.items())


# --------------------------------------------------------------------------- 2. latency


def inbox_count() -> int:
    return sql_value("SELECT count(*) FROM events_inboxentry WHERE consumer = %s", [CONSUMER])


def publish_at_rate(first_id: int, seconds: float, commits: dict[int, float], rate: int) -> dict[str, float]:
    """One OrganisationCreated per transaction at `rate`/s for `seconds`, ids from `first_id`; records
    time.time() right after each commit returns. Paced on a monotonic schedule (sleep until the next
    slot, never sleep-after-work), so slow commits do not lower the rate unless we fall behind."""
    interval = 1.0 / rate
    start = time.monotonic()
    worst_lag = 0.0
    n = 0
    while (due := start + n * interval) < start + seconds:
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            worst_lag = max(worst_lag, now - due)
        org_id = first_id + n
        publish_one(organisation_created(org_id), key=org_id)
        commits[org_id] = time.time()
        n += 1
    return {"published": n, "rate": n / (time.monotonic() - start), "worst_lag_ms": worst_lag * 1000}


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far per process; PostgreSQL's includes its backends (its child processes)."""
    import psutil

    used = {}
    for name, pid in pids.items():
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)] if name == "postgres" else [root]
            used[name] = 0.0
            for proc in procs:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    times = proc.cpu_times()
                    used[name] += times.user + times.system
    return used


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, int]:
    """Percent of one core each process used between two cpu_seconds() snapshots."""
    return {name: round(100 * (after[name] - before[name]) / seconds) for name in after if name in before}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure_latency(
    children: Children, *, rate: int, consumer_config: dict[str, Any], poll_timeout_ms: int
) -> dict[str, Any]:
    out = DATA_DIR / f"consumer-{os.getpid()}.json"
    out.unlink(missing_ok=True)
    argv = python_argv(
        __file__,
        "--serve",
        "consumer",
        "--out",
        str(out),
        "--consumer-config",
        json.dumps(consumer_config),
        "--poll-timeout-ms",
        str(poll_timeout_ms),
    )
    children.start("consumer", argv)
    commits: dict[int, float] = {}

    # One probe event first: the group join (~3 s here) and process start must not count as latency.
    started = time.monotonic()
    publish_at_rate(LATENCY_FIRST_ID, 1 / rate, commits, rate)
    wait_until(lambda: inbox_count() >= 1, timeout=60, what="the bench consumer to join", children=children)
    print(f"  consumer process started and joined its group in {time.monotonic() - started:.1f} s")

    # Warm-up at the measured rate until the consumer keeps up (at most 50 ms of events behind).
    warmup_started = time.monotonic()
    while time.monotonic() - warmup_started < 2 or inbox_count() < len(commits) - rate // 20:
        publish_at_rate(LATENCY_FIRST_ID + len(commits), 1.0, commits, rate)
        if time.monotonic() - warmup_started > 30:
            print("  (the consumer is still behind after 30 s of warm-up; measuring anyway)")
            break

    first_measured = LATENCY_FIRST_ID + len(commits)
    pids = {"publisher": os.getpid(), **children.pids()}
    cpu_before, measure_started = cpu_seconds(pids), time.monotonic()
    publisher = publish_at_rate(first_measured, MEASURE_SECONDS, commits, rate)
    cpu = cpu_share(cpu_before, cpu_seconds(pids), time.monotonic() - measure_started)
    total = len(commits)
    wait_until(
        lambda: inbox_count() >= total,
        timeout=60,
        what="the consumer to apply every event",
        children=children,
    )
    children.stop("consumer")  # SIGTERM: it writes its handler timings, then exits
    seen: dict[int, tuple[float, float, float]] = {}
    for org_id, *times in json.loads(out.read_text()):
        seen.setdefault(org_id, tuple(times))  # (handler, relay send(), poll return); redeliveries ignored
    out.unlink()

    measured = [org_id for org_id in commits if org_id >= first_measured and org_id in seen]
    if not measured:
        raise RuntimeError("no measured event reached the bench handler; see bench/out/stack-events/*.log")
    e2e = [(seen[o][0] - commits[o]) * 1000 for o in measured]
    stages = {
        "relay_pickup": [(seen[o][1] - commits[o]) * 1000 for o in measured],  # commit → relay send()
        "fetch": [(seen[o][2] - seen[o][1]) * 1000 for o in measured],  # send() → consumer poll() returns
        "apply": [(seen[o][0] - seen[o][2]) * 1000 for o in measured],  # poll() → handler (queued in batch)
    }
    result = {
        "e2e_p50_ms": round(percentile(e2e, 50), 1),
        "e2e_p99_ms": round(percentile(e2e, 99), 1),
        "e2e_max_ms": round(max(e2e), 1),
        "e2e_events": len(measured),
        "e2e_missing": sum(1 for o in commits if o >= first_measured and o not in seen),
        "publish_rate_eps": round(publisher["rate"], 1),
        "publish_worst_lag_ms": round(publisher["worst_lag_ms"], 1),
        **{f"{stage}_p{p}_ms": round(percentile(values, p), 1) for stage, values in stages.items() for p in (50, 99)},
        "e2e_cpu_pct": cpu,
        "e2e_rate_target_eps": rate,
        "consumer_config": consumer_config,
        "poll_timeout_ms": poll_timeout_ms,
    }
    print(
        f"publisher: {result['publish_rate_eps']:.1f} events/s achieved (target {rate}), "
        f"one per transaction, worst lag behind schedule {result['publish_worst_lag_ms']:.1f} ms"
    )
    print(
        f"end-to-end commit → handler over {len(measured):,} events: p50 {result['e2e_p50_ms']} ms, "
        f"p99 {result['e2e_p99_ms']} ms, max {result['e2e_max_ms']} ms  (goal p99 ≤ 150 ms); "
        f"{result['e2e_missing']} missing"
    )
    for stage, what in (
        ("relay_pickup", "commit → relay send()"),
        ("fetch", "relay send() → consumer poll() returns"),
        ("apply", "poll() returns → handler"),
    ):
        print(f"  stage {what}: p50 {result[f'{stage}_p50_ms']} ms, p99 {result[f'{stage}_p99_ms']} ms")
    print(f"  CPU, % of one core (2 cores = 200%): {format_cpu(cpu)}")
    return result


# --------------------------------------------------------------------------- the service processes


def serve(role: str, args: argparse.Namespace) -> None:
    """Run the relay or the bench consumer until SIGTERM (a child of the benchmark; env comes from it)."""
    setup_django()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if role == "relay":
        from services.relay.relay import Relay

        Relay(producer_overrides=json.loads(args.relay_config)).run(stop)
    else:
        serve_consumer(stop, Path(args.out), json.loads(args.consumer_config), args.poll_timeout_ms)


def serve_consumer(stop: threading.Event, out: Path, overrides: dict[str, Any], poll_timeout_ms: int) -> None:
    from hub.events import kafka
    from hub.events.consumer import Consumer
    from hub.events.registry import handles

    calls: list[tuple[int, float, float, float]] = []  # (organisation_id, handler, relay send(), poll return)
    now = {"sent": 0.0, "polled": 0.0}  # of the record being applied / the last poll

    class TimedConsumer(Consumer):
        def apply_with_retries(self, record: Any, stop: threading.Event) -> Any:
            now["sent"] = record.timestamp / 1000  # CreateTime, stamped by the relay's producer.send()
            return super().apply_with_retries(record, stop)

    @handles(ORG_CREATED, consumer=CONSUMER)
    def on_organisation_created(event: Any) -> None:
        calls.append((event.organisation_id, time.time(), now["sent"], now["polled"]))

    new_consumer = kafka.new_consumer

    def timed_new_consumer(*topics: str, **config: Any) -> Any:
        # Consumer.run builds its client through this module function: the one seam to try settings
        # and to note when each poll() returns, without touching the consumer runtime.
        client = new_consumer(*topics, **{**config, **overrides})
        poll = client.poll

        def timed_poll(*args: Any, **kwargs: Any) -> Any:
            batch = poll(*args, **kwargs)
            now["polled"] = time.time()
            return batch

        client.poll = timed_poll
        return client

    kafka.new_consumer = timed_new_consumer  # type: ignore[assignment]
    try:
        TimedConsumer(CONSUMER).run(stop, poll_timeout_ms=poll_timeout_ms)
    finally:
        out.write_text(json.dumps(calls))


# --------------------------------------------------------------------------- main


@contextlib.contextmanager
def bench_stack() -> Iterator[Children]:
    """Stack up, fresh database migrated, Django set up; everything stopped and dropped on the way out."""
    from django.core.management import call_command

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stack, urls = start_stack()
    children = Children(stack.pids())
    database = None
    try:
        database, database_url = create_database(urls["DATABASE_URL"])
        configure_env(urls, database_url)  # from here on the Django settings can be read
        setup_django()
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"stack up (PostgreSQL + tansu Kafka); fresh database migrated in {time.perf_counter() - started:.1f} s")
        yield children
    finally:
        try:
            children.stop_all()
            if database:
                from django.db import connections

                connections.close_all()
                drop_database(urls["DATABASE_URL"], database)
        finally:
            stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("all", "throughput", "latency"), default="all")
    parser.add_argument("--rate", type=int, default=RATE, help="events/s for the latency run")
    parser.add_argument("--consumer-config", default="{}", help="JSON overrides for new_consumer()")
    parser.add_argument("--poll-timeout-ms", type=int, default=500, help="Consumer.run poll timeout (its default)")
    parser.add_argument("--relay-config", default="{}", help="JSON producer overrides for the relay")
    parser.add_argument("--serve", choices=("relay", "consumer"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args)
        return

    # A SIGTERM to the benchmark unwinds through the finally blocks, so children and stack stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict[str, Any] = {}
    throughput = args.only in ("all", "throughput")
    with bench_stack() as children:
        # Before the relay starts: with a relay running these events would go to the real topic too,
        # and the latency consumer would then have 50,000 of them to chew through first.
        backlog = build_backlog() if throughput else {}
        if throughput:
            create_round_topics()
        start_relay(children, json.loads(args.relay_config))
        warm_relay(children)
        if throughput:
            results.update(measure_throughput(children, backlog))
        if args.only in ("all", "latency"):
            config = json.loads(args.consumer_config)
            results.update(
                measure_latency(children, rate=args.rate, consumer_config=config, poll_timeout_ms=args.poll_timeout_ms)
            )
    results["relay_config"] = json.loads(args.relay_config)
    for key in ("relay_eps", "raw_eps", "relay_ratio", "e2e_p50_ms", "e2e_p99_ms"):
        results.setdefault(key, None)  # keys the reader expects, even when a part was skipped
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()

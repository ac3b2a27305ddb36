"""The two local backends: bubblewrap where installed, else util-linux `unshare` with our own init (nsinit.py).

Both build the same view (view.py) as root in fresh mount, network, PID, IPC, UTS and cgroup namespaces,
start the reaper (reaper.c or reaper.py) as the namespace's PID 1, and have it run the same drop chain, so the
program starts with rlimits set, as a fresh unprivileged host uid, with no capabilities and no_new_privs, in
a new user namespace of its own:

    reaper FD -- prlimit --cpu --as --nproc --fsize --nofile --core -- setpriv --reuid U --regid U
        --clear-groups --inh-caps=-all --no-new-privs -- unshare --user --map-user=1000 --map-group=1000 -- PROGRAM

Why root builds the view and the uid is dropped afterwards: the interpreter lives under /root here, which an
unprivileged bwrap cannot even look up; and a user namespace created by root maps the program to host uid 0,
which RLIMIT_NPROC does not count and whose owner permission bits open root's 0600 files.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.scorer.sandbox.types import (
    INSIDE_REAPER,
    INSIDE_REAPER_BINARY,
    INSIDE_UID,
    Limits,
    MountOp,
    SandboxUnavailable,
)
from services.scorer.sandbox.view import reaper_binary, support_dir

log = logging.getLogger(__name__)

HOSTNAME = "sandbox"
NSINIT = Path(__file__).with_name("nsinit.py")
TOOLS = ("prlimit", "setpriv", "unshare")
FORCE_ENV = "WANZHI_SANDBOX_BACKEND"  # "bwrap" or "unshare": skip auto-detection


@dataclass
class Launch:
    """How to start one run: the host argv and env, fds the child inherits, and the host ends of status pipes.

    The status pipes carry JSON lines: {"child-pid": <host pid of the namespace's init>} once it started, and
    the reaper's {"exit-code": N, "cpu": s, "maxrss_kb": k} once the program and all it left are gone.
    No exit-code without a kill means the sandbox could not be built.
    """

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...]
    status_fds: list[int]
    close_after_start: list[int] = field(default_factory=list)


class Backend:
    """A way of starting the sandbox. Subclasses turn the view plan and drop chain into a host command."""

    name = ""

    def __init__(self, tools: Mapping[str, str]) -> None:
        self.tools = dict(tools)

    def launch(self, *, plan: Sequence[MountOp], chain: Sequence[str], env: Mapping[str, str], cwd: str) -> Launch:
        """The host command that builds the view and runs `chain` under the reaper (reaper.py) as PID 1."""
        raise NotImplementedError

    def drop_chain(self, *, argv: Sequence[str], limits: Limits, host_uid: int) -> list[str]:
        """The commands between the built view and the program (see the module docstring)."""
        memory = "unlimited" if limits.memory_bytes is None else str(limits.memory_bytes)
        return [
            self.tools["prlimit"],
            f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",  # SIGXCPU first; SIGKILL a second later
            f"--as={memory}",
            f"--nproc={limits.processes}",
            f"--fsize={limits.file_size_bytes}",
            f"--nofile={limits.open_files}",
            "--core=0",
            "--",
            self.tools["setpriv"],
            f"--reuid={host_uid}",
            f"--regid={host_uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--no-new-privs",
            "--",
            self.tools["unshare"],
            "--user",
            f"--map-user={INSIDE_UID}",
            f"--map-group={INSIDE_UID}",
            "--",
            *argv,
        ]


class BwrapBackend(Backend):
    name = "bwrap"

    def __init__(self, tools: Mapping[str, str], *, compiled_reaper: bool = True) -> None:
        super().__init__(tools)
        self.compiled_reaper = compiled_reaper  # False: reaper.py even where reaper.c was built (tests)

    def launch(self, *, plan: Sequence[MountOp], chain: Sequence[str], env: Mapping[str, str], cwd: str) -> Launch:
        status_r, status_w = os.pipe()
        report_r, report_w = os.pipe()
        args = [
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--as-pid-1",  # the reaper is the namespace's init, not bwrap's own (which reports no usage)
            "--new-session",  # no controlling terminal to push keystrokes into (TIOCSTI)
            "--hostname",
            HOSTNAME,
            # For the reaper (KILL: what the program leaves) and setpriv (SETUID, SETGID: the fresh uid);
            # the uid change clears them all before the program runs.
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
            "--cap-add",
            "CAP_KILL",
            "--json-status-fd",
            str(status_w),
            "--clearenv",
        ]
        for key, value in env.items():
            args += ["--setenv", key, value]
        for op in plan:
            args += _bwrap_op(op)
        args += ["--chdir", cwd]
        # Through a memfd, not argv: the sandbox's ps would otherwise show the host paths of every bind.
        # (bwrap takes the command itself only from argv.)
        args_fd = _memfd("bwrap-args", b"".join(arg.encode() + b"\0" for arg in args))
        reaper = reaper_argv(report_w, compiled=self.compiled_reaper)
        return Launch(
            argv=[self.tools["bwrap"], "--args", str(args_fd), "--", *reaper, *chain],
            env={"PATH": "/usr/bin:/bin"},
            pass_fds=(args_fd, status_w, report_w),
            status_fds=[status_r, report_r],
            close_after_start=[args_fd, status_w, report_w],
        )


class UnshareBackend(Backend):
    name = "unshare"

    def launch(self, *, plan: Sequence[MountOp], chain: Sequence[str], env: Mapping[str, str], cwd: str) -> Launch:
        status_r, status_w = os.pipe()
        config = {
            "newroot": str(support_dir() / "root"),
            "plan": [{"kind": op.kind, "target": op.target, "source": op.source, "size": op.size} for op in plan],
            "chain": list(chain),
            "cwd": cwd,
            "hostname": HOSTNAME,
            "status_fd": status_w,
        }
        config_fd = _memfd("nsinit-config", json.dumps(config).encode())
        argv = [
            self.tools["unshare"],
            "--mount",
            "--net",
            "--pid",
            "--ipc",
            "--uts",
            "--cgroup",
            "--fork",
            "--kill-child",  # if unshare dies, the namespace's init (and with it everything inside) dies too
            "--propagation",
            "private",
            "--",
            os.path.realpath(sys.executable),
            "-I",
            "-S",
            "-B",
            str(NSINIT),
            str(config_fd),
        ]
        return Launch(
            argv=argv,
            env=dict(env),
            pass_fds=(config_fd, status_w),
            status_fds=[status_r],
            close_after_start=[config_fd, status_w],
        )


def reaper_argv(report_fd: int, *, compiled: bool = True) -> list[str]:
    """The reaper's command line inside the sandbox: compiled where it could be built, else in Python."""
    if compiled and reaper_binary() is not None:
        return [INSIDE_REAPER_BINARY, str(report_fd)]
    return [os.path.realpath(sys.executable), "-I", "-S", "-B", INSIDE_REAPER, str(report_fd)]


def _bwrap_op(op: MountOp) -> list[str]:
    match op.kind:
        case "tmpfs":
            return [*(["--size", str(op.size)] if op.size else []), "--tmpfs", op.target]
        case "dir":
            return ["--dir", op.target]
        case "ro_bind":
            return ["--ro-bind", op.source, op.target]
        case "bind":
            return ["--bind", op.source, op.target]
        case "dev_bind":
            return ["--dev-bind", op.source, op.target]
        case "symlink":
            return ["--symlink", op.source, op.target]
        case "proc":
            return ["--proc", op.target]
        case "dev":
            return ["--dev", op.target]
        case "remount_ro":
            return ["--remount-ro", op.target]
    raise ValueError(f"unknown mount op {op.kind!r}")


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # without MFD_CLOEXEC: the child must inherit it
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _tools() -> dict[str, str]:
    found: dict[str, str] = {}
    for tool in TOOLS:
        path = shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
        # The drop chain runs inside the view, where only /usr is the host's.
        if path is None or not os.path.realpath(path).startswith("/usr/"):
            raise SandboxUnavailable(f"the sandbox needs util-linux's {tool} under /usr")
        found[tool] = os.path.realpath(path)
    return found


def _candidates() -> list[Backend]:
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the local sandbox backends run as root: they build the view as root and then drop the program to a "
            "fresh unprivileged uid (use the Kubernetes backend where workers cannot be root)"
        )
    tools = _tools()
    forced = os.environ.get(FORCE_ENV, "")
    backends: list[Backend] = []
    bwrap = shutil.which("bwrap")
    if bwrap and forced in ("", "bwrap"):
        backends.append(BwrapBackend({**tools, "bwrap": bwrap}))
    if forced in ("", "unshare"):
        backends.append(UnshareBackend(tools))
    if not backends:
        raise SandboxUnavailable(f"{FORCE_ENV}={forced!r} names no usable backend (bwrap installed: {bool(bwrap)})")
    return backends


@functools.cache
def backend_detect() -> Backend:
    """The first backend that runs a trivial program here: bwrap, else unshare. Cached for the process.

    Raises SandboxUnavailable naming why each candidate failed.
    """
    from services.scorer.sandbox.run import sandbox_probe

    failures = []
    for backend in _candidates():
        problem = sandbox_probe(backend=backend)
        if problem is None:
            log.info("sandbox backend selected", extra={"sandbox_backend": backend.name})
            return backend
        failures.append(f"{backend.name}: {problem}")
    raise SandboxUnavailable("no sandbox backend works here: " + "; ".join(failures))


def backend_named(name: str) -> Backend:
    """A backend by name, without probing (tests run both)."""
    for backend in _candidates_any():
        if backend.name == name:
            return backend
    raise SandboxUnavailable(f"backend {name!r} is not available here")


def _candidates_any() -> list[Backend]:
    tools = _tools()
    backends: list[Backend] = []
    bwrap = shutil.which("bwrap")
    if bwrap:
        backends.append(BwrapBackend({**tools, "bwrap": bwrap}))
    backends.append(UnshareBackend(tools))
    return backends

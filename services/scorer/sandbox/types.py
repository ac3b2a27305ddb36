"""The sandbox's vocabulary: limits, what is bound into the view, and what a run reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024

# Fixed places inside every sandbox; runners and entry scripts rely on them.
INSIDE_SCRATCH = "/scratch"
INSIDE_REAPER = "/opt/wanzhi-sandbox/reaper.py"
INSIDE_REAPER_BINARY = "/opt/wanzhi-sandbox/reaper"
INSIDE_UID = 1000  # what the program sees as its uid; on the host it is a fresh unprivileged uid per run
INSIDE_USER = "sandbox"


class SandboxUnavailable(RuntimeError):
    """No sandbox backend can run on this host (bwrap or unshare missing, not root, namespaces refused)."""


class SandboxSetupError(RuntimeError):
    """The sandbox could not be built for this run (a bind source is missing, scratch is not a directory)."""


class KillReason(enum.StrEnum):
    """Why a run ended early. `cpu`, `memory` and `processes` are read from the way the program died."""

    CPU = "cpu"
    MEMORY = "memory"
    PROCESSES = "processes"
    WALL_CLOCK = "wall_clock"
    OUTPUT_LIMIT = "output_limit"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. Every value must be positive.

    cpu_seconds, memory_bytes (address space), processes (tasks of the sandbox's uid, threads included),
    file_size_bytes and open_files become rlimits of the program; wall_seconds is enforced by the host,
    which kills the whole PID namespace when it passes. Each of stdout and stderr keeps `output_bytes`;
    past `output_kill_bytes` on either stream the run is killed (a program that only floods its output
    would otherwise keep the host reading until the wall clock).
    """

    cpu_seconds: int = 60
    wall_seconds: float = 120.0
    memory_bytes: int | None = 2048 * MIB  # None: no address-space limit (CUDA reserves terabytes of it)
    processes: int = 64
    file_size_bytes: int = 256 * MIB
    open_files: int = 256
    output_bytes: int = 1 * MIB
    output_kill_bytes: int = 16 * MIB

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "wall_seconds", "processes", "file_size_bytes", "open_files", "output_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")
        if self.memory_bytes is not None and self.memory_bytes <= 0:
            raise ValueError("Limits.memory_bytes must be positive or None")
        if self.output_kill_bytes < self.output_bytes:
            raise ValueError("Limits.output_kill_bytes must be at least output_bytes")


@dataclass(frozen=True)
class Bind:
    """A host path shown at `target` inside the sandbox; read-only unless `writable`."""

    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class MountOp:
    """One step of building the sandbox's view; both backends replay the same list.

    kind: "tmpfs" (target, size), "dir", "ro_bind" / "bind" / "dev_bind" (source → target),
    "symlink" (source is the link's text), "proc", "dev", "remount_ro".
    """

    kind: str
    target: str
    source: str = ""
    size: int = 0


@dataclass(frozen=True)
class SandboxResult:
    """What one run did. `exit_code` follows the shell convention: 128 + N when signal N ended the program."""

    backend: str
    exit_code: int
    signal: int | None
    timed_out: bool
    killed_reason: KillReason | None
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    stdout_tail: str
    stderr_tail: str
    stdout_bytes: int
    stderr_bytes: int
    output_truncated: bool
    host_uid: int

    @property
    def ok(self) -> bool:
        """The program exited 0 and no limit was hit."""
        return self.exit_code == 0 and self.killed_reason is None

    def log_tail(self, *, chars: int = 4000) -> str:
        """The end of stderr, else of stdout: what an entrant needs to see why a run failed."""
        return (self.stderr_tail or self.stdout_tail)[-chars:]

"""What a sandboxed program sees: a read-only system and interpreter, the caller's binds and one scratch dir.

Both backends replay the same list of MountOps, so the view is decided here once.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from services.scorer.sandbox.types import (
    INSIDE_REAPER,
    INSIDE_REAPER_BINARY,
    INSIDE_SCRATCH,
    INSIDE_UID,
    INSIDE_USER,
    Bind,
    MountOp,
    SandboxSetupError,
)

ROOT_TMPFS_BYTES = 1024 * 1024  # holds mount points and a few small files, and is read-only once built
SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# /etc is rebuilt from a few files: binding the host's would show /etc/shadow and whatever else lives there.
HOST_ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime")
HOST_ETC_DIRS = ("ld.so.conf.d",)
REAPER = Path(__file__).with_name("reaper.py")
REAPER_SOURCE = Path(__file__).with_name("reaper.c")
REAPER_ENV = "WANZHI_SANDBOX_REAPER"  # "python": skip the compiled reaper
log = logging.getLogger(__name__)
RESERVED = (
    "/usr",
    "/etc",
    "/proc",
    "/dev",
    INSIDE_SCRATCH,
    str(PurePosixPath(INSIDE_REAPER).parent),
    *(f"/{name}" for name in SYSTEM_DIRS),
)


@functools.cache
def support_dir() -> Path:
    """Files the sandbox's /etc is built from, and an empty dir the unshare backend mounts its root on.

    One per process, world-readable: the sandbox's unprivileged uid reads them through the bind.
    """
    path = Path(tempfile.mkdtemp(prefix="wanzhi-sandbox-"))
    atexit.register(shutil.rmtree, path, True)
    path.chmod(0o755)
    (path / "root").mkdir(mode=0o755)
    files = {
        "passwd": f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
        f"{INSIDE_USER}:x:{INSIDE_UID}:{INSIDE_UID}:{INSIDE_USER}:{INSIDE_SCRATCH}:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": f"root:x:0:\n{INSIDE_USER}:x:{INSIDE_UID}:\nnogroup:x:65534:\n",
        "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    }
    for name, text in files.items():
        file = path / name
        file.write_text(text, encoding="utf-8")
        file.chmod(0o644)
    return path


@functools.cache
def reaper_binary() -> Path | None:
    """reaper.c compiled into the support dir (root-owned, bound read-only), once per process; None where
    there is no C compiler or WANZHI_SANDBOX_REAPER=python: then reaper.py runs, a Python start slower."""
    if os.environ.get(REAPER_ENV) == "python":
        return None
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not REAPER_SOURCE.exists():
        log.warning("no C compiler: the sandbox's reaper runs in Python (a slower start)")
        return None
    target = support_dir() / "reaper"
    try:
        subprocess.run(
            [compiler, "-O2", "-Wall", "-Werror", "-o", str(target), str(REAPER_SOURCE)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("the sandbox's reaper did not compile, so it runs in Python: %s", error)
        return None
    target.chmod(0o755)
    return target


@functools.cache
def interpreter_roots() -> tuple[str, ...]:
    """The directories the platform's interpreter and its packages live in (outside /usr)."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(os.path.dirname(os.path.realpath(sys.executable)))}
    if sys.prefix != sys.base_prefix:
        roots.add(os.path.abspath(sys.prefix))  # a venv: python finds pyvenv.cfg by this path, unresolved
    # The base prefix covers the real executable's bin/ directory; keep only the topmost of nested roots.
    kept: list[str] = []
    for root in sorted(roots):
        if root.startswith("/usr/") or root == "/usr" or any(_inside(root, k) for k in kept):
            continue
        kept.append(root)
    return tuple(kept)


def view_plan(*, binds: Sequence[Bind], scratch: Path, devices: Sequence[str] = ()) -> list[MountOp]:
    """The mount steps of one run's view, in order. Raises SandboxSetupError for a bad bind."""
    shared_ops, shared_made = _system_view()
    ops, made = list(shared_ops), set(shared_made)

    def add(kind: str, source: str, target: str) -> None:
        _add(ops, made, kind, source, target)

    for device in devices:
        if not Path(device).exists():
            raise SandboxSetupError(f"device {device} does not exist on this host")
        add("dev_bind", device, device)
    for bind in binds:
        target = _check_target(bind.target)
        if not bind.source.exists():
            raise SandboxSetupError(f"bind source {bind.source} does not exist")
        add("bind" if bind.writable else "ro_bind", str(bind.source.resolve()), target)
    add("bind", str(scratch), INSIDE_SCRATCH)
    ops.append(MountOp("remount_ro", "/"))
    return ops


def _add(ops: list[MountOp], made: set[str], kind: str, source: str, target: str) -> None:
    """Append a mount (after `dir` steps for its missing parents, which bwrap would make 0700)."""
    for parent in reversed(PurePosixPath(target).parents):
        text = str(parent)
        if text not in made:
            ops.append(MountOp("dir", text))
            made.add(text)
    ops.append(MountOp(kind, target, source=source))
    made.add(target)


@functools.cache
def _system_view() -> tuple[tuple[MountOp, ...], frozenset[str]]:
    """The part of the view every run shares: /usr, /etc rebuilt, the interpreter, /proc, /dev, the reaper."""
    ops: list[MountOp] = [MountOp("tmpfs", "/", size=ROOT_TMPFS_BYTES)]
    made: set[str] = {"/"}
    _add(ops, made, "ro_bind", "/usr", "/usr")
    for name in SYSTEM_DIRS:
        host = Path("/") / name
        if host.is_symlink():
            _add(ops, made, "symlink", os.readlink(host), f"/{name}")
        elif host.is_dir():
            _add(ops, made, "ro_bind", str(host), f"/{name}")
    ops.append(MountOp("dir", "/etc"))
    made.add("/etc")
    for name in HOST_ETC_FILES + HOST_ETC_DIRS:
        if (Path("/etc") / name).exists():
            _add(ops, made, "ro_bind", os.path.realpath(f"/etc/{name}"), f"/etc/{name}")
    support = support_dir()
    for name in ("passwd", "group", "hosts", "nsswitch.conf"):
        _add(ops, made, "ro_bind", str(support / name), f"/etc/{name}")
    for root in interpreter_roots():
        _add(ops, made, "ro_bind", root, root)
    _add(ops, made, "ro_bind", str(REAPER), INSIDE_REAPER)
    binary = reaper_binary()
    if binary is not None:
        _add(ops, made, "ro_bind", str(binary), INSIDE_REAPER_BINARY)
    ops += [MountOp("proc", "/proc"), MountOp("dev", "/dev")]
    made.update({"/proc", "/dev"})
    return tuple(ops), frozenset(made)


def _check_target(target: str) -> str:
    path = PurePosixPath(target)
    if not path.is_absolute() or ".." in path.parts or str(path) != target or target == "/":
        raise SandboxSetupError(f"bind target {target!r} must be a normalised absolute path")
    for reserved in (*RESERVED, *interpreter_roots()):
        if _inside(target, reserved) or _inside(reserved, target):
            raise SandboxSetupError(f"bind target {target} overlaps {reserved}, which the sandbox provides")
    return target


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")

"""Init of the unshare backend: builds the view, then stays PID 1 of the sandbox's PID namespace, reaping.

Started by `unshare --mount --net --pid --ipc --uts --cgroup --fork --kill-child` as root, with `python -I -S`
and nothing but the standard library. It reads its config (the view plan, the drop chain, the working
directory) from the fd named in argv, replays the plan on a tmpfs, pivots into it, brings up loopback, and
becomes the reaper (reaper.py) of the drop chain. It reports {"child-pid": <its host pid>} on the status fd
once started; the reaper reports the exit and usage there. Its exit ends the PID namespace.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import platform
import socket
import stat
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I left out the script's directory
import reaper  # loaded before the pivot, while the host's files are still in view

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


def make_target(path: str, source: str) -> None:
    """A mount point of the source's kind: a directory for a directory, an empty file otherwise."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if os.path.isdir(source):
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def bind(source: str, target: str, *, writable: bool, devices: bool) -> None:
    make_target(target, source)
    # Not recursive: a mount below the source stays hidden rather than showing up writable.
    mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if writable else MS_RDONLY) | (0 if devices else MS_NODEV)
    mount(None, target, None, flags)


def build(root: str, plan: list[dict]) -> None:
    for op in plan:
        kind, target, source = op["kind"], root + op["target"].rstrip("/"), op["source"]
        if kind == "tmpfs":
            size = f",size={op['size']}" if op["size"] else ""
            mount("tmpfs", target or root, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0755{size}")
        elif kind == "dir":
            os.makedirs(target, mode=0o755, exist_ok=True)
            os.chmod(target, 0o755)  # noqa: S103  mount points the sandbox's uid must traverse
        elif kind in ("ro_bind", "bind", "dev_bind"):
            bind(source, target, writable=kind != "ro_bind", devices=kind == "dev_bind")
        elif kind == "symlink":
            os.symlink(source, target)
        elif kind == "proc":
            os.makedirs(target, mode=0o755, exist_ok=True)
            mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "dev":
            os.makedirs(target, mode=0o755, exist_ok=True)
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536")
            for name in DEV_NODES:
                if stat.S_ISCHR(os.stat(f"/dev/{name}").st_mode):
                    bind(f"/dev/{name}", f"{target}/{name}", writable=True, devices=True)
            for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
                os.symlink(link, f"{target}/{name}")
            os.symlink("/proc/self/fd/2", f"{target}/stderr")
            os.mkdir(f"{target}/shm", 0o755)
        elif kind == "remount_ro":
            mount(None, target or root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        else:
            raise ValueError(f"unknown mount op {kind!r}")


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def pivot(root: str) -> None:
    os.chdir(root)
    # pivot_root(".", ".") stacks the old root on the new one; detaching "." then drops the old root.
    _check(libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def report(status_fd: int, message: dict) -> None:
    os.write(status_fd, (json.dumps(message) + "\n").encode())


def main() -> int:
    with os.fdopen(int(sys.argv[1]), "rb") as config_file:
        config = json.loads(config_file.read())
    status_fd = config["status_fd"]
    host_pid = int(os.readlink("/proc/self"))  # still the host's procfs: this is our pid out there
    report(status_fd, {"child-pid": host_pid})
    try:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        build(config["newroot"], config["plan"])
        socket.sethostname(config["hostname"])
        loopback_up()
        pivot(config["newroot"])
    except OSError as error:
        sys.stderr.write(f"sandbox setup failed: {error}\n")
        return 1
    os.chdir(config["cwd"])
    return reaper.reap(config["chain"], status_fd)


if __name__ == "__main__":
    os._exit(main())

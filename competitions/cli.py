"""`wanzhi`: sign in, submit to a competition and follow the scoring live, and read leaderboards.

    wanzhi login [--url URL] [--username NAME] [--password PASSWORD]
    wanzhi submit COMPETITION FILE [--phase ID] [--kind predictions|onnx|package] [--description TEXT]
    wanzhi leaderboard COMPETITION [--phase ID] [--private] [--page N] [--size N]

The site's address and the API token come from --url/--token, else WANZHI_URL/WANZHI_TOKEN, else the
file `wanzhi login` writes (~/.config/wanzhi/config.json, readable by its owner only). Exit codes: 0 done
(for `submit`: scored), 1 the submission failed or was cancelled, 2 refused (bad credentials, a refused
upload, not permitted, not found), 3 the site could not be reached or answered nonsense. Answers from the
site come in the language of LANG (Chinese for zh_*, else English).

A client of the open API only: it imports neither Django nor the rest of the platform.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import requests
from requests_toolbelt.multipart.encoder import MultipartEncoder, MultipartEncoderMonitor

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 2, 3
DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = (10, 60)  # connect, read (seconds)
FOLLOW_RETRIES = 5  # status checks in a row that may fail to connect while following a submission


class CliError(Exception):
    """Ends the command with a message and an exit code (never a traceback)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --- configuration -------------------------------------------------------------------------------
def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wanzhi" / "config.json"


def config_read() -> dict[str, str]:
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def config_write(data: dict[str, str]) -> Path:
    """Write the config readable by its owner only (it holds the token): created 0600, never widened."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as output:
        json.dump(data, output, ensure_ascii=False, indent=2)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT
    return path


# --- talking to the site ---------------------------------------------------------------------------
class Api:
    """The open API at `url`, with the token if there is one; every failure becomes a CliError."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        language = "zh-hans" if os.environ.get("LANG", "").lower().startswith("zh") else "en"
        self.session.headers.update({"Accept-Language": language, "User-Agent": "wanzhi-cli"})
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith("http") else f"{self.url}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach {self.url}: {_network_reason(exc)}", EXIT_UNREACHABLE) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise CliError(_refusal_text(response.status_code, body), _exit_for(response.status_code))
        if body is None:
            raise CliError(
                f"{self.url} did not answer as the Wanzhi API does (HTTP {response.status_code})", EXIT_UNREACHABLE
            )
        return body


def _network_reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or lost (is the address right, and the site up?)"
    return exc.__class__.__name__


def _exit_for(status: int) -> int:
    return EXIT_REFUSED if 400 <= status < 500 and status != 429 else EXIT_UNREACHABLE


def _refusal_text(status: int, body: Any) -> str:
    """The site's reason, with the fields it names; what to do about a missing or stale token."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if status == 401:
        return f"{detail or 'not signed in'}; run `wanzhi login` (or set WANZHI_TOKEN)"
    if status == 429:
        return f"too many requests: {detail or 'try again later'}"
    if status >= 500 or not detail:
        return f"the site answered HTTP {status}"
    lines = [str(detail)]
    for field, messages in (body.get("errors") or {}).items():
        text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        lines.append(f"  {field}: {text}")
    return "\n".join(lines)


# --- commands --------------------------------------------------------------------------------------
def login(args: argparse.Namespace, out: TextIO) -> int:
    saved = config_read()
    url = args.url or os.environ.get("WANZHI_URL") or _ask(f"Site address [{saved.get('url', DEFAULT_URL)}]: ")
    url = (url or saved.get("url") or DEFAULT_URL).rstrip("/")
    username = args.username or _ask("Username: ")
    password = args.password or os.environ.get("WANZHI_PASSWORD") or getpass.getpass("Password: ")
    if not username or not password:
        raise CliError("a username and a password are needed", EXIT_REFUSED)
    body = Api(url, None).call("POST", "auth/token/", json={"username": username, "password": password})
    path = config_write({"url": url, "token": body["token"], "username": body["username"]})
    print(f"Signed in to {url} as {body['username']}; the token is kept in {path}", file=out)
    return EXIT_OK


def submit(args: argparse.Namespace, out: TextIO) -> int:
    api = _api(args)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}", EXIT_REFUSED)
    fields: dict[str, Any] = {"kind": args.kind, "description": args.description}
    if args.phase is not None:
        fields["phase"] = str(args.phase)
    with path.open("rb") as handle:
        fields["file"] = (path.name, handle, "application/octet-stream")
        encoder = MultipartEncoder(fields=fields)
        bar = ProgressBar(total=encoder.len, out=sys.stderr)
        monitor = MultipartEncoderMonitor(encoder, lambda m: bar.update(m.bytes_read))
        # requests reads the monitor block by block as it sends: the bar follows the bytes on the wire.
        body = api.call(
            "POST",
            f"competitions/{args.competition}/submissions/",
            data=monitor,
            headers={"Content-Type": monitor.content_type},
        )
    bar.finish()
    print(f"Submission {body['id']} received ({body['original_name']}, {body['size']:,} bytes).", file=out)
    if args.no_follow:
        return EXIT_OK
    return follow(api, args.competition, body["id"], out, interval=args.interval)


def follow(api: Api, competition: str, submission_id: int, out: TextIO, *, interval: float = 1.0) -> int:
    """Poll the status about once every `interval` seconds and print each change until it ends. The
    submission is stored already, so a short network outage is waited out rather than ending the wait."""
    url = f"competitions/{competition}/submissions/{submission_id}/status/"
    last = None
    lost = 0
    while True:
        try:
            status = api.call("GET", url)
        except CliError as error:
            lost += 1
            if error.code != EXIT_UNREACHABLE or lost > FOLLOW_RETRIES:
                raise
            print(f"{error}; trying again ({lost}/{FOLLOW_RETRIES})", file=sys.stderr, flush=True)
            time.sleep(interval * lost)
            continue
        lost = 0
        line = status_line(status)
        if line != last:
            print(line, file=out, flush=True)
            last = line
        if status["is_final"]:
            return EXIT_OK if status["status"] == "scored" else EXIT_FAILED
        time.sleep(interval)


def status_line(status: dict[str, Any]) -> str:
    """One line for a status answer: received → queued (position n) → running n% → scored / failed: why."""
    name = status["status"]
    if name in ("received", "queued") and status.get("queue_position"):
        return f"{name} (position {status['queue_position']} in the queue)"
    if name == "running":
        return f"running {status['progress']}%"
    if name == "scored":
        splits = [
            f"{split}: " + ", ".join(f"{metric} {_number(value)}" for metric, value in metrics.items())
            for split, metrics in sorted(status.get("scores", {}).items())
            if isinstance(metrics, dict)
        ]
        return "scored — " + ("; ".join(splits) or "no scores")
    if name == "failed":
        return f"failed: {status.get('failure_reason') or 'no reason given'}"
    return name


def leaderboard(args: argparse.Namespace, out: TextIO) -> int:
    api = _api(args)
    params: dict[str, Any] = {"split": "private" if args.private else "public", "page": args.page, "size": args.size}
    if args.phase is not None:
        params["phase"] = args.phase
    board = api.call("GET", f"competitions/{args.competition}/leaderboard/", params=params)
    print(
        f"{board['split'].capitalize()} leaderboard, {board['metric']} "
        f"({'higher' if board['higher_is_better'] else 'lower'} is better) — "
        f"{board['count']} teams, page {board['page']} of {board['pages']}",
        file=out,
    )
    print(leaderboard_table(board), file=out)
    return EXIT_OK


def leaderboard_table(board: dict[str, Any]) -> str:
    """Ranked rows with the baselines placed among them by score (unranked); `≈` marks a team whose
    interval overlaps the leader's."""
    better: Callable[[float, float], bool] = (lambda a, b: a > b) if board["higher_is_better"] else (lambda a, b: a < b)
    baselines = list(board.get("baselines") or [])
    rows: list[list[str]] = []
    for row in board["results"]:
        while baselines and better(baselines[0]["score"], row["score"]):
            rows.append(_baseline_row(baselines.pop(0)))
        ci = f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]" if row["ci_low"] is not None else ""
        rank = f"{row['rank']}{' ≈' if row['tied_with_leader'] else ''}"
        submitted = str(row["submitted_at"])[:16].replace("T", " ")
        rows.append([rank, row["team_name"], _number(row["score"]), ci, str(row["entries"]), submitted])
    rows.extend(_baseline_row(baseline) for baseline in baselines)
    if not rows:
        return "(no scored submissions yet)"
    return _table(["Rank", "Team", "Score", "95% CI", "Entries", "Submitted"], rows)


def _baseline_row(baseline: dict[str, Any]) -> list[str]:
    return ["—", f"{baseline['name']} (baseline)", _number(baseline["score"]), "", "", ""]


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


def _width(text: str) -> int:
    """Columns a string takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(_width(line[i]) for line in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class ProgressBar:
    """Bytes sent of the upload: redrawn in place on a terminal, a line per tenth otherwise."""

    def __init__(self, *, total: int, out: TextIO) -> None:
        self.total, self.out = max(total, 1), out
        self.tty = out.isatty()
        self.shown = -1

    def update(self, sent: int) -> None:
        percent = min(100, sent * 100 // self.total)
        step = percent if self.tty else percent // 10 * 10
        if step == self.shown:
            return
        self.shown = step
        filled = percent * 30 // 100
        text = f"Uploading [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%  {sent:,} / {self.total:,} bytes"
        self.out.write(f"\r{text}" if self.tty else f"{text}\n")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def _api(args: argparse.Namespace) -> Api:
    saved = config_read()
    url = args.url or os.environ.get("WANZHI_URL") or saved.get("url") or DEFAULT_URL
    token = args.token or os.environ.get("WANZHI_TOKEN") or saved.get("token")
    return Api(url, token)


def _ask(prompt: str) -> str:
    try:
        return input(prompt).strip()
    except EOFError:
        return ""


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the site's address (default: WANZHI_URL, then the saved one)")
    common.add_argument("--token", help="an API token (default: WANZHI_TOKEN, then the saved one)")
    root = argparse.ArgumentParser(prog="wanzhi", description="Wanzhi (皖智汇) competitions from the command line.")
    commands = root.add_subparsers(dest="command", required=True)

    sign_in = commands.add_parser("login", parents=[common], help="sign in and keep the API token")
    sign_in.add_argument("--username")
    sign_in.add_argument("--password", help="(default: WANZHI_PASSWORD, else asked without echo)")
    sign_in.set_defaults(run=login)

    send = commands.add_parser("submit", parents=[common], help="upload a submission and follow its scoring")
    send.add_argument("competition", help="the competition's short name (as in its address)")
    send.add_argument("file")
    send.add_argument("--phase", type=int, help="phase id (default: the phase open now)")
    send.add_argument("--kind", choices=("predictions", "onnx", "package"), default="predictions")
    send.add_argument("--description", default="")
    send.add_argument("--no-follow", action="store_true", help="return once the upload is received")
    send.add_argument("--interval", type=float, default=1.0, help="seconds between status checks")
    send.set_defaults(run=submit)

    board = commands.add_parser("leaderboard", parents=[common], help="show a leaderboard")
    board.add_argument("competition")
    board.add_argument("--phase", type=int, help="phase id (default: the phase open now)")
    board.add_argument("--private", action="store_true", help="the private leaderboard (once the phase closed)")
    board.add_argument("--page", type=int, default=1)
    board.add_argument("--size", type=int, default=50)
    board.set_defaults(run=leaderboard)
    return root


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = parser().parse_args(argv)
    try:
        code = args.run(args, sys.stdout)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        code = error.code
    except KeyboardInterrupt:
        print("\nstopped (a submission already received goes on being scored)", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()

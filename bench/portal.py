"""Portal speed: time to first byte of the action-plan page under 20 concurrent readers, cached vs uncached.

Run from the repository root:  .venv/bin/python bench/portal.py   (about a minute)

Starts its own stack (bench/out/portal-stack, free ports), migrates, loads the demo (which imports the
provincial action plan as a policy page) and serves hub.asgi with one uvicorn process, DEBUG off.
Then 20 client threads, each on its own keep-alive connection, request the action plan page:
- uncached: every request carries a session cookie, which the page cache never serves (full render);
- cached: anonymous requests, served from the page cache after the first.
TTFB is the time from sending the request to having the status line and headers (http.client's
getresponse()). Each phase warms up, then runs for a fixed number of requests. The server and the
clients share the machine's 2 cores, so absolute figures are conservative; the ratio is the point.
The last line printed is one JSON object.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make infra/ importable

from infra.run import wait_http, web_command  # noqa: E402
from infra.stack import Stack, free_port  # noqa: E402

DATA_DIR = ROOT / "bench" / "out" / "portal-stack"
CLIENTS = 20
REQUESTS_PER_CLIENT = 40
WARMUP_PER_CLIENT = 5


def manage(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def action_plan_path(env: dict[str, str]) -> str:
    script = (
        "from hub.cms.models import PolicyDocumentPage; from hub.cms.demo import ACTION_PLAN_INDEX;"
        "print(PolicyDocumentPage.objects.get(index_number=ACTION_PLAN_INDEX, locale__language_code='zh-hans').url)"
    )
    return manage("shell", "-c", script, env=env).strip().splitlines()[-1]


def client(
    port: int, path: str, headers: dict[str, str], count: int, out: list[float], cache_states: list[str]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        out.append((time.perf_counter() - started) * 1000)
        cache_states.append(response.getheader("X-Page-Cache") or "none")
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    conn.close()


def run_phase(port: int, path: str, headers: dict[str, str]) -> tuple[list[float], dict[str, int], float]:
    """Warm up, then CLIENTS threads × REQUESTS_PER_CLIENT requests; returns TTFBs, cache states, req/s."""
    warm: list[float] = []
    threads = [
        threading.Thread(target=client, args=(port, path, headers, WARMUP_PER_CLIENT, warm, [])) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples: list[float] = []
    states: list[str] = []
    threads = [
        threading.Thread(target=client, args=(port, path, headers, REQUESTS_PER_CLIENT, samples, states))
        for _ in range(CLIENTS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    counts = {state: states.count(state) for state in sorted(set(states))}
    return samples, counts, len(samples) / elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    stack = Stack(DATA_DIR, ports="auto", parts=("postgres", "redis", "kafka", "search"))
    server: subprocess.Popen | None = None
    try:
        clean = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_SERVERS")) and k != "WANZHI_ENV_FILE"}
        env = {
            **clean,
            **stack.up(),
            "WANZHI_ENV_FILE": str(DATA_DIR / "stack.env"),
            "DJANGO_DEBUG": "0",
            "STATIC_MANIFEST": "0",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        manage("migrate", "--noinput", env=env)
        manage("load_demo", env=env)
        path = action_plan_path(env)  # already percent-encoded by Wagtail
        port = free_port()
        server = subprocess.Popen(
            web_command(port, "--log-level", "warning", "--no-access-log"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{port}{path}", timeout=60)

        uncached, uncached_states, uncached_rps = run_phase(port, path, {"Cookie": "sessionid=bench-reader"})
        cached, cached_states, cached_rps = run_phase(port, path, {})
        figures = {
            "ttfb_uncached_p50_ms": round(statistics.median(uncached), 2),
            "ttfb_uncached_p99_ms": round(percentile(uncached, 0.99), 2),
            "ttfb_cached_p50_ms": round(statistics.median(cached), 2),
            "ttfb_cached_p99_ms": round(percentile(cached, 0.99), 2),
            "uncached_rps": round(uncached_rps, 1),
            "cached_rps": round(cached_rps, 1),
        }
        figures["cached_speedup_p99"] = round(figures["ttfb_uncached_p99_ms"] / figures["ttfb_cached_p99_ms"], 1)
        print(f"page: {urllib.parse.unquote(path)}  ({CLIENTS} clients × {REQUESTS_PER_CLIENT} requests per phase)")
        print(
            f"uncached (full render, states {uncached_states}): p50 {figures['ttfb_uncached_p50_ms']} ms, "
            f"p99 {figures['ttfb_uncached_p99_ms']} ms, {figures['uncached_rps']} req/s"
        )
        print(
            f"cached   (page cache, states {cached_states}):   p50 {figures['ttfb_cached_p50_ms']} ms, "
            f"p99 {figures['ttfb_cached_p99_ms']} ms, {figures['cached_rps']} req/s  (goal p99 ≤ 20 ms)"
        )
        print(f"cached p99 is {figures['cached_speedup_p99']}× faster than uncached p99")
        print(json.dumps(figures))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        stack.down()


if __name__ == "__main__":
    main()

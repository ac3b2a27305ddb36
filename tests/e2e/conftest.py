"""Browser tests: a real ASGI server on the test database, driven by Debian's Chromium."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from infra.run import web_command
from infra.stack import free_port
from tests.support import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def live_server_url(start_process: Callable) -> str:
    """uvicorn serving hub.asgi (HTTP and websockets) on a free port, against the test database."""
    port = free_port()
    start_process(*web_command(port), manage=False)
    wait_for(lambda: _answers(port), timeout=30)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's event loop must not outlive the browser tests, or later tests
    that call async_to_sync on this thread would find a running loop."""
    # Playwright's sync API keeps an event loop on this thread; Django's ORM calls here are still
    # synchronous, so its async-safety check would be a false alarm.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()

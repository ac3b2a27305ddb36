"""Starts the real local stack once per test session, before pytest-django reads the settings.

Loaded with `-p tests.stack_plugin` (see pyproject). Parts whose URL is already set in the
environment (a CI service, a real cluster) are used as they are.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from infra.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
_stack: Stack | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    global _stack
    if any(arg in ("--help", "-h", "--version") for arg in args):
        return
    data_dir = Path(os.environ.get("WANZHI_TEST_STACK_DIR", ROOT / ".stack-test"))
    stack = Stack(data_dir, ports="auto", fast=True, parts=("postgres", "redis", "kafka", "search"))
    already_running = any(part.running for part in stack.status())
    os.environ.update(stack.up())
    # Another session (a second pytest run) may be using this stack: only its starter stops it.
    _stack = None if already_running else stack
    # Never read the development stack's env file, and keep this run's topics apart from any other's.
    os.environ["WANZHI_ENV_FILE"] = str(data_dir / "unused.env")
    os.environ.setdefault("KAFKA_TOPIC_PREFIX", f"t{uuid.uuid4().hex[:8]}.")
    os.environ.setdefault("STATIC_MANIFEST", "0")
    os.environ.setdefault("EMAIL_BACKEND", "hub.notifications.mail.DevMailboxBackend")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _stack is not None and not os.environ.get("WANZHI_TEST_KEEP_STACK"):
        _stack.down()

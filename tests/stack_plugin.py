"""Starts the real local stack once per test session, before pytest-django reads the settings.

Loaded with `-p tests.stack_plugin` (see pyproject). Each session gets its own stack (a cold
start takes under a second), so concurrent sessions never stop each other's servers. Parts
whose URL is already set in the environment (a CI service, a real cluster) are used as they are.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from infra.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
_stack: Stack | None = None
_data_dir: Path | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    global _stack, _data_dir
    if any(arg in ("--help", "-h", "--version") for arg in args):
        return
    _data_dir = Path(os.environ.get("WANZHI_TEST_STACK_DIR", ROOT / ".stack-test")) / str(os.getpid())
    _stack = Stack(_data_dir, ports="auto", fast=True, parts=("postgres", "redis", "kafka", "search", "stripe"))
    os.environ.update(_stack.up())
    # Never read the development stack's env file, and keep this run's topics apart from any other's.
    os.environ["WANZHI_ENV_FILE"] = str(_data_dir / "unused.env")
    os.environ.setdefault("KAFKA_TOPIC_PREFIX", f"t{uuid.uuid4().hex[:8]}.")
    os.environ.setdefault("STATIC_MANIFEST", "0")
    os.environ.setdefault("EMAIL_BACKEND", "hub.notifications.mail.DevMailboxBackend")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _stack is None or os.environ.get("WANZHI_TEST_KEEP_STACK"):
        return
    _stack.down()
    assert _data_dir is not None
    shutil.rmtree(_data_dir, ignore_errors=True)

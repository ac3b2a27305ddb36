"""Fixtures shared by the whole suite: real services, the event runtime, and users."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import translation
from elasticsearch import Elasticsearch

from hub.events.kafka import ensure_topics, reset_producer
from tests.support import ThreadedService, process_database_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _close_kafka_producer() -> Iterator[None]:
    """The process-wide producer must not outlive the session's broker (its thread would log errors)."""
    yield
    reset_producer()


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Code run outside a request speaks English in tests, whatever an earlier test left activated."""
    with translation.override("en"):
        yield


@pytest.fixture
def kafka(settings) -> str:
    """Fresh topics and consumer groups for this test: earlier tests' events cannot leak in."""
    settings.KAFKA_TOPIC_PREFIX = f"{os.environ['KAFKA_TOPIC_PREFIX']}{uuid.uuid4().hex[:8]}."
    ensure_topics()
    return settings.KAFKA_TOPIC_PREFIX


@pytest.fixture
def service_env(transactional_db, kafka: str) -> dict[str, str]:
    """The environment for a service process started by a test: same stack, the test's database and topics."""
    env = dict(os.environ)
    env["DATABASE_URL"] = process_database_url()
    env["KAFKA_TOPIC_PREFIX"] = kafka
    env["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    env.pop("WANZHI_FAILPOINTS", None)
    return env


@pytest.fixture
def start_process(service_env: dict[str, str], tmp_path: Path, settings) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `manage.py <args>` (or any argv) as a real process; every one is stopped after the test.

    Its output goes to a file (`process.log`, a Path), never to a pipe: a chatty server whose pipe
    nobody reads blocks once the pipe's 64 KiB are full.
    """
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None, manage: bool = True) -> subprocess.Popen:
        argv = [sys.executable, str(ROOT / "manage.py"), *args] if manage else list(args)
        log = tmp_path / f"process-{len(started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                # The test's search indices too, when it made its own (the search_index fixture).
                env={**service_env, "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX, **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process.log = log  # type: ignore[attr-defined]
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def run_in_thread(
    transactional_db,
) -> Iterator[Callable[[Callable[[threading.Event], None]], ThreadedService]]:
    services: list[ThreadedService] = []

    def start(target: Callable[[threading.Event], None]) -> ThreadedService:
        service = ThreadedService(target)
        services.append(service)
        service.thread.start()
        return service

    yield start
    for service in services:
        service.close()


@pytest.fixture
def fast_retries(settings):
    settings.EVENTS = {**settings.EVENTS, "CONSUMER_MAX_TRIES": 2, "CONSUMER_BACKOFF_SECONDS": 0.05}


@pytest.fixture
def search_index(settings) -> Iterator[str]:
    """Search indices of this test's own (a fresh SEARCH_INDEX_PREFIX), removed after the test."""
    prefix = settings.SEARCH_INDEX_PREFIX = f"t{uuid.uuid4().hex[:8]}-"
    yield prefix
    es = Elasticsearch(os.environ["ELASTICSEARCH_URL"])  # the stack's, even if the test pointed settings elsewhere
    # By name: Elasticsearch refuses wildcard deletes by default (action.destructive_requires_name).
    names = sorted(es.options(ignore_status=404).indices.get(index=f"{prefix}*").body)
    if names:
        es.options(ignore_status=404).indices.delete(index=",".join(names))

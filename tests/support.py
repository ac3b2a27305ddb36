"""Helpers the tests share: services run in threads, consumers by name, the test database's URL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connection

from hub.events.consumer import Consumer


def process_database_url() -> str:
    """The URL of the test database pytest-django created, for the processes a test starts."""
    params = connection.settings_dict
    return f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"


def consumer(name: str) -> Consumer:
    """The consumer runtime for a service, with its handlers registered."""
    from hub.events.management.commands.run_service import load_service

    load_service(name)
    return Consumer(name)


def wait_for(condition: Callable[[], object], *, timeout: float = 30.0, every: float = 0.1) -> object:
    """Poll until `condition()` is truthy; fail the test with the condition's name if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {getattr(condition, '__name__', condition)}")


class ThreadedService:
    """Runs a service's loop in a thread of the test process, against the test database."""

    def __init__(self, target: Callable[[threading.Event], None]) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.error: BaseException | None = None

    def _run(self, target: Callable[[threading.Event], None]) -> None:
        try:
            target(self.stop)
        except BaseException as exc:  # surfaced by close()
            self.error = exc
        finally:
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        if self.error:
            raise self.error

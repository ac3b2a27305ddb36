"""`manage.py run_service NAME [NAME ...]`: run long-running services until SIGTERM or Ctrl-C.

One name runs that service in the main thread. Several names run each service's loop in a thread of
one process (each with its own Kafka consumer and group, so nothing changes for the events): one Django
process instead of one per service, which is most of what a service costs in memory. If one loop fails
or returns on its own, the others are stopped and the process exits with status 1, so whoever started
it (infra.run, Kubernetes) notices.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from hub.events.consumer import Consumer
from hub.events.registry import consumers

log = logging.getLogger(__name__)

Service = Callable[[threading.Event], None]
STOP_TIMEOUT_SECONDS = 30.0  # what a loop gets to finish its batch and leave its group after a stop


def load_service(name: str) -> Service:
    """A package services/NAME with run(stop), or else a consumer group registered by a context's handlers."""
    try:
        module = importlib.import_module(f"services.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"services.{name}", "services"):
            raise
        if name in consumers():
            return Consumer(name).run
        raise CommandError(f"no service {name!r}: known consumers are {', '.join(consumers()) or 'none'}") from None
    return module.run


def run_together(services: dict[str, Service], stop: threading.Event) -> list[str]:
    """Run each service's loop in its own thread until `stop` is set or one of them ends.

    A loop that raises, or returns while `stop` is not set, sets `stop` for the others. Returns the
    names of the loops that failed that way or did not stop within STOP_TIMEOUT_SECONDS (empty when
    all stopped cleanly); their threads are daemons, so a stuck one does not keep the process alive.
    """
    failed: list[str] = []

    def loop(name: str, service: Service) -> None:
        try:
            service(stop)
            if not stop.is_set():
                failed.append(name)
                log.error("service returned before it was stopped; stopping the others", extra={"service": name})
        except BaseException:
            failed.append(name)
            log.exception("service crashed; stopping the others", extra={"service": name})
        finally:
            stop.set()
            connection.close()  # this thread's own database connection

    threads = [
        threading.Thread(target=loop, args=(name, service), name=f"service-{name}", daemon=True)
        for name, service in services.items()
    ]
    for thread in threads:
        thread.start()
    log.info("services started", extra={"services": list(services)})
    while not stop.wait(1.0):  # a timed wait, so the main thread gets to run the signal handlers
        pass
    for thread in threads:
        thread.join(STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            name = thread.name.removeprefix("service-")
            failed.append(name)
            log.error("service did not stop in time", extra={"service": name, "seconds": STOP_TIMEOUT_SECONDS})
    return failed


class Command(BaseCommand):
    help = "Run services (relay, notifier, a context's consumer, ...) until SIGTERM; several names share a process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="+", metavar="name")

    def handle(self, *args: Any, names: list[str], **options: Any) -> None:
        services = {name: load_service(name) for name in dict.fromkeys(names)}  # each name once, in order
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if len(services) == 1:
            (service,) = services.values()
            service(stop)
            return
        failed = run_together(services, stop)
        if failed:
            raise CommandError(f"service(s) {', '.join(failed)} failed; the others were stopped (see the log above)")

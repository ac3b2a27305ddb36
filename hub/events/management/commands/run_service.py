"""`manage.py run_service NAME`: run a long-running service until SIGTERM or Ctrl-C."""

import importlib
import signal
import threading
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.events.consumer import Consumer
from hub.events.registry import consumers

Service = Callable[[threading.Event], None]


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


class Command(BaseCommand):
    help = "Run a long-running service (relay, notifier, a context's consumer, ...) until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        service = load_service(name)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        service(stop)

"""`manage.py replay_dead_letters [--consumer NAME]`: apply dead-lettered events again, once fixed."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from hub.events.consumer import Consumer
from hub.events.deadletters import replay_dead_letters
from hub.events.management.commands.run_service import load_service


def consumer_for(name: str) -> Consumer:
    load_service(name)  # importing the service registers its handlers
    return Consumer(name)


class Command(BaseCommand):
    help = "Replay the dead-letter topic through each consumer's inbox (events applied before are skipped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--consumer", help="only this consumer's dead letters")

    def handle(self, *args: Any, consumer: str | None = None, **options: Any) -> None:
        report = replay_dead_letters(consumer_factory=consumer_for, only=consumer)
        self.stdout.write(
            f"replayed {report.replayed}, already applied {report.already_applied}, "
            f"still failing {len(report.still_failing)}"
        )
        for line in report.still_failing:
            self.stdout.write(f"  {line}")
        if report.still_failing:
            raise SystemExit(1)

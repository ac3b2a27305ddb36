"""`manage.py kafka_topics`: create the topics configured in infra/topics.toml that are missing."""

from typing import Any

from django.core.management.base import BaseCommand

from hub.events.kafka import ensure_topics
from hub.events.topics import topic_specs


class Command(BaseCommand):
    help = "Create missing Kafka topics from infra/topics.toml."

    def handle(self, *args: Any, **options: Any) -> None:
        created = set(ensure_topics())
        for spec in topic_specs():
            state = "created" if spec.name in created else "exists"
            self.stdout.write(f"{spec.name:<24} partitions={spec.partitions:<3} {state}")

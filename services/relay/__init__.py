"""The outbox relay: moves committed outbox rows to Kafka, in order per key, at least once."""

import threading

from services.relay.relay import Relay


def run(stop: threading.Event) -> None:
    Relay().run(stop)

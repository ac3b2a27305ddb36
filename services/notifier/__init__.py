"""The notifier: turns events that name people into in-app notifications and e-mails."""

import threading

from hub.events.consumer import Consumer
from hub.events.registry import handles
from hub.notifications.kinds import KINDS
from services.notifier.handlers import notify

CONSUMER = "notifier"
for _event_type in KINDS:
    handles(_event_type, consumer=CONSUMER)(notify)


def run(stop: threading.Event) -> None:
    Consumer(CONSUMER).run(stop)

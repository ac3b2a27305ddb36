from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "hub.events"
    label = "events"
    verbose_name = "Events"

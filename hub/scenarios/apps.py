from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScenariosConfig(AppConfig):
    name = "hub.scenarios"
    label = "scenarios"
    verbose_name = _("Scenario calls")

    def ready(self) -> None:
        from hub.scenarios import events  # noqa: F401  (registers the event types)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FundsConfig(AppConfig):
    name = "funds"
    label = "funds"
    verbose_name = _("Funds")

    def ready(self) -> None:
        from funds import events  # noqa: F401  (registers the event types)

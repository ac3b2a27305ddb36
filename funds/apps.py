from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FundsConfig(AppConfig):
    name = "funds"
    label = "funds"
    verbose_name = _("Funds")

    def ready(self) -> None:
        # Registers the event types; publishing a form freezes its version.
        from funds import events, wagtail_hooks  # noqa: F401

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "funds.credit"
    label = "funds_credit"
    verbose_name = _("Compute credit")

    def ready(self) -> None:
        # Registers the event types and the handler that meters finished scoring jobs.
        from funds.credit import events  # noqa: F401

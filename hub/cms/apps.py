from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "hub.cms"
    label = "cms"
    verbose_name = _("Portal pages")

    def ready(self) -> None:
        from hub.cms import events, signals  # noqa: F401  (events registers the event types)

        signals.connect()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CompetitionsConfig(AppConfig):
    name = "competitions"
    label = "competitions"
    verbose_name = _("Competitions")

    def ready(self) -> None:
        from competitions import events  # noqa: F401  (registers the event types and the job-event handlers)

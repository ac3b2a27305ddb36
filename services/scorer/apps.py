from django.apps import AppConfig


class ScorerConfig(AppConfig):
    name = "services.scorer"
    label = "scorer"
    verbose_name = "Scoring jobs"

    def ready(self) -> None:
        from services.scorer import dispatch  # noqa: F401  (registers the dispatcher's handler, consumer "scorer")

import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "hub.search"
    label = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        # The client logs every request at INFO (each bulk of the indexer, each search): too much for
        # the default level. LOGGING can still set it, since only an unset level is raised here.
        transport = logging.getLogger("elastic_transport.transport")
        if transport.level == logging.NOTSET:
            transport.setLevel(logging.WARNING)

"""`manage.py search_reindex [--kind K]`: rebuild indices from the read model, swapping each in atomically."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.search.indices import UnknownKind, get_kind, kinds
from hub.search.rebuild import index_rebuild


class Command(BaseCommand):
    help = "Rebuild search indices from the read model (SearchDocument); updates made meanwhile are kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", help="only this kind (default: every kind)")

    def handle(self, *args: Any, kind: str | None = None, **options: Any) -> None:
        try:
            names = [get_kind(kind).name] if kind else [k.name for k in kinds()]
        except UnknownKind as exc:
            raise CommandError(str(exc)) from None
        for name in names:
            report = index_rebuild(kind=name)
            self.stdout.write(
                f"{name}: {report.loaded} documents into {report.index}, {report.repushed} pushed again after "
                f"the swap, removed {', '.join(report.removed) or 'nothing'} ({report.seconds:.1f} s)"
            )

"""`manage.py search_reconcile [--kind K] [--repair]`: find (and fix) drift between the index and the read model."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.search.indices import UnknownKind, get_kind, kinds
from hub.search.rebuild import index_reconcile

SHOWN = 10  # ids listed per problem; the counts are complete


class Command(BaseCommand):
    help = "Compare each search index with the read model: missing, stale and orphaned documents; --repair fixes them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", help="only this kind (default: every kind)")
        parser.add_argument("--repair", action="store_true", help="push or remove what differs")

    def handle(self, *args: Any, kind: str | None = None, repair: bool = False, **options: Any) -> None:
        try:
            names = [get_kind(kind).name] if kind else [k.name for k in kinds()]
        except UnknownKind as exc:
            raise CommandError(str(exc)) from None
        drift = False
        for name in names:
            report = index_reconcile(kind=name, repair=repair)
            self.stdout.write(
                f"{name}: {report.stored} live documents in the read model, {report.indexed} in the index; "
                f"{len(report.missing)} missing, {len(report.stale)} stale, {len(report.orphaned)} orphaned"
                + (f"; {report.repaired} repaired" if repair else "")
            )
            for label, ids in (("missing", report.missing), ("stale", report.stale), ("orphaned", report.orphaned)):
                if ids:
                    more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
                    self.stdout.write(f"  {label}: {', '.join(ids[:SHOWN])}{more}")
            drift = drift or not report.clean
        if drift and not repair:
            raise CommandError("the index and the read model differ; run again with --repair to fix it")

"""What managers download from a call's dashboard: its filtered queue as CSV (UTF-8 with a byte-order mark,
so spreadsheet programs read the Chinese) or as an XLSX workbook (openpyxl), one row per application."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook

from funds.models import Application
from hub import csv_stream

COLUMNS = (
    "id",
    "title",
    "organisation",
    "status",
    "submitted_at",
    "days_in_stage",
    "requested_amount",
    "approved_amount",
    "disbursed",
    "reviewers",
    "reviews",
    "score_mean",
    "score_spread",
    "outlier",
)
CHUNK = 2000


def queue_rows(
    queue: QuerySet[Application], *, fence: Decimal | None, now: datetime | None = None
) -> Iterator[list[Any]]:
    """One list of values per application of a funds.selectors.dashboard_queue, in COLUMNS order; read in
    chunks, so a call of any size streams in constant memory."""
    now = now or timezone.now()
    cent = Decimal("0.01")
    a: Any  # an Application with the queue's annotations
    for a in queue.iterator(chunk_size=CHUNK):
        mean = None if a.score_mean is None else Decimal(a.score_mean).quantize(cent)
        spread = None if a.score_spread is None else Decimal(a.score_spread).quantize(cent)
        yield [
            a.pk,
            a.title,
            a.organisation.name,
            a.status,
            timezone.localtime(a.submitted_at).replace(tzinfo=None) if a.submitted_at else None,
            (now - a.stage_since).days if a.stage_since else None,
            a.requested_amount,
            a.approved_amount,
            a.disbursed,
            a.reviewers,
            a.reviews,
            mean,
            spread,
            fence is not None and spread is not None and spread > fence,
        ]


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """The header and rows as CSV lines (hub.csv_stream)."""
    return csv_stream.csv_lines(COLUMNS, rows)


def xlsx_bytes(rows: Iterable[list[Any]]) -> bytes:
    """The header and rows as one worksheet (write-only: rows go straight to the file)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="applications")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

"""CSV downloads streamed line by line: UTF-8 led by a byte-order mark (so spreadsheet programs read the
Chinese right), None as an empty cell. Callers format their own values (dates, decimals)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

BOM = "\ufeff"


class _Echo:
    """A file-like object whose write returns the line, for csv.writer inside a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header and rows as CSV lines, the first led by the byte-order mark."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow(["" if value is None else value for value in row])

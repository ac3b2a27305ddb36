"""What hosts download about a phase: leaderboards and submissions as CSV (UTF-8 with a byte-order mark, so
spreadsheet programs read the Chinese), and the submitted files as one zip (never the hidden data)."""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from django.db.models import QuerySet

from competitions.models import Phase, Submission
from competitions.selectors import MAX_PAGE_SIZE, leaderboard
from hub import csv_stream

LEADERBOARD_COLUMNS = (
    "rank",
    "team_id",
    "team",
    "organisation_id",
    "score",
    "ci_low",
    "ci_high",
    "submitted_at",
    "entries",
)
SUBMISSION_COLUMNS = (
    "id",
    "team_id",
    "team",
    "kind",
    "status",
    "original_name",
    "size",
    "sha256",
    "created_at",
    "started_at",
    "finished_at",
    "public_score",
    "private_score",
    "failure_code",
    "platform_failure",
    "selected_for_final",
    "hidden",
    "hidden_reason",
    "team_disqualified",
)


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text line by line (hub.csv_stream); datetimes in ISO 8601."""
    iso_rows = ([v.isoformat() if hasattr(v, "isoformat") else v for v in row] for row in rows)
    return csv_stream.csv_lines(header, iso_rows)


def leaderboard_rows(*, phase: Phase, split: str) -> Iterator[tuple[Any, ...]]:
    """Every row of a phase's leaderboard in rank order, read page by page (LeaderboardHidden for the
    private split before the close, as `leaderboard` says)."""
    number = 1
    while True:
        page = leaderboard(phase=phase, split=split, page=number, size=MAX_PAGE_SIZE)
        for row in page.rows:
            yield (
                row.rank,
                row.team_id,
                row.team_name,
                row.organisation_id,
                row.score,
                row.ci_low,
                row.ci_high,
                row.submitted_at,
                row.entries,
            )
        if number >= page.pages:
            return
        number += 1


def submission_rows(submissions: QuerySet[Submission], *, private: bool) -> Iterator[tuple[Any, ...]]:
    """One row per submission, read in chunks; private scores only where `private` (the phase closed)."""
    values = submissions.values_list(
        "id",
        "team_id",
        "team__name",
        "kind",
        "status",
        "original_name",
        "size",
        "sha256",
        "created_at",
        "started_at",
        "finished_at",
        "public_score",
        "private_score",
        "failure_code",
        "platform_failure",
        "selected_for_final",
        "hidden",
        "hidden_reason",
        "team__disqualified",
    )
    for row in values.iterator(chunk_size=500):
        yield row if private else (*row[:12], None, *row[13:])


def archive_name(team: str, submission_id: int, original_name: str) -> str:
    """`<team>/<id>-<original name>`, with anything that could leave the folder taken out of each part."""

    def clean(part: str) -> str:
        return re.sub(r"[\\/\x00-\x1f]", "_", part).strip().lstrip(".") or "_"

    return f"{clean(team)}/{submission_id}-{clean(original_name)}"


def submissions_zip(submissions: QuerySet[Submission]) -> IO[bytes]:
    """The submitted files in a zip spooled to a temporary file (rewound, for streaming out); a file
    missing from storage is skipped and listed in MISSING.txt. Only submission files: hidden data lives
    in another table and never passes here."""
    archive = tempfile.TemporaryFile(prefix="wanzhi-submissions-")
    missing: list[str] = []
    storage = Submission.file.field.storage
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for submission in submissions.select_related("team").order_by("team__name", "id").iterator(chunk_size=200):
            name = archive_name(submission.team.name, submission.pk, submission.original_name)
            try:
                with storage.open(str(submission.file.name), "rb") as source, zipped.open(name, "w") as target:
                    shutil.copyfileobj(source, target, 1024**2)
            except FileNotFoundError:
                missing.append(name)
        if missing:
            zipped.writestr("MISSING.txt", "\n".join(missing) + "\n")
    archive.seek(0)
    return archive

"""Checks of a phase's hidden test set as a host uploads it, with line-numbered errors, and the Kaggle-style
split of its rows into the public part (ranked during the phase) and the private part (revealed at close).

The scorer reads what this module writes (`id,label,split`), so a file that passes here never fails there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

from competitions.models import SPLIT_PRIVATE, SPLIT_PUBLIC, SPLITS
from services.scorer.config import ScoringConfig

MAX_ERRORS = 20  # enough to fix a file in one go, few enough to read


class DatasetInvalid(ValueError):
    """The file cannot be a phase's hidden data; `errors` are messages, most with a line number."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class HiddenLabels:
    """Checked labels: rows of (id, label, split) in file order, and how many fell in each split."""

    rows: list[tuple[str, str, str]]
    counts: dict[str, int]

    @property
    def ids(self) -> list[str]:
        return [row[0] for row in self.rows]

    def to_csv(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "label", "split"])
        writer.writerows(self.rows)
        return buffer.getvalue().encode("utf-8")


def labels_check(*, data: bytes, config: ScoringConfig, seed: int, public_fraction: float) -> HiddenLabels:
    """Check a labels CSV (`id,label` or `id,label,split`, UTF-8) against the phase's configuration.

    Ids must be non-empty and unique; labels must be what the configuration scores (a listed class, an
    integer class, a finite number, or text). Without a split column, each row is put in the public part
    with probability `public_fraction`, decided by a hash of `seed` and its id: the same file always splits
    the same way, and nobody can tell a row's part from its position.
    """
    text = _decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DatasetInvalid([_("The labels file is empty.")])
    header = [name.strip() for name in next(csv.reader([lines[0]]))]
    if header not in (["id", "label"], ["id", "label", "split"]):
        raise DatasetInvalid(
            [
                _("Line 1: the columns must be id,label or id,label,split; found %(found)s.")
                % {"found": ",".join(header)}
            ]
        )
    errors: list[str] = []
    rows: list[tuple[str, str, str]] = []
    first_line: dict[str, int] = {}
    for number, fields in enumerate(csv.reader(lines[1:]), start=2):
        if not fields:
            continue  # a blank line, as editors leave at the end
        if len(fields) != len(header):
            errors.append(
                _("Line %(line)d: %(found)d values for %(expected)d columns.")
                % {"line": number, "found": len(fields), "expected": len(header)}
            )
        else:
            problem = _row_problem(fields, config, first_line, number)
            if problem:
                errors.append(problem)
            else:
                first_line[fields[0]] = number
                split = fields[2].strip() if len(fields) == 3 else _split_of(fields[0], seed, public_fraction)
                rows.append((fields[0], fields[1].strip(), split))
        if len(errors) >= MAX_ERRORS:
            errors.append(_("Stopped after %(count)d errors.") % {"count": MAX_ERRORS})
            break
    if not errors and not rows:
        errors.append(_("The labels file has a header but no rows."))
    if not errors and len(rows) > config.max_rows:
        errors.append(
            _("The labels file has %(rows)d rows; the limit is %(limit)d.")
            % {"rows": len(rows), "limit": config.max_rows}
        )
    if errors:
        raise DatasetInvalid(errors)
    counts = {split: sum(1 for row in rows if row[2] == split) for split in SPLITS}
    if len(rows) > 1 and 0 in counts.values():
        raise DatasetInvalid([_("Both the public and the private part need rows; one of them is empty.")])
    return HiddenLabels(rows=rows, counts=counts)


def inputs_check(*, data: bytes, ids: Iterable[str]) -> int:
    """Check hidden inputs for models and code: an .npz with `id` (one per labelled row, the same ids) and
    `x` (one row each, numeric, finite). Returns the number of rows."""
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        raise DatasetInvalid([_("The inputs are not a NumPy .npz archive.")]) from None
    with archive:
        missing = [name for name in ("id", "x") if name not in archive.files]
        if missing:
            raise DatasetInvalid(
                [_("The inputs archive lacks the array(s): %(names)s.") % {"names": ", ".join(missing)}]
            )
        try:
            input_ids = [str(value) for value in archive["id"].tolist()]
            x = archive["x"]
        except ValueError:
            raise DatasetInvalid([_("The inputs archive holds objects; only plain arrays are accepted.")]) from None
    errors = []
    if x.ndim < 1 or len(x) != len(input_ids):
        errors.append(
            _("The inputs have %(x)d rows of x for %(ids)d ids.")
            % {"x": len(x) if x.ndim else 0, "ids": len(input_ids)}
        )
    elif not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        errors.append(_("The inputs x must be finite numbers."))
    if len(set(input_ids)) != len(input_ids):
        errors.append(_("The inputs repeat an id."))
    wanted = set(ids)
    if set(input_ids) != wanted:
        extra, absent = len(set(input_ids) - wanted), len(wanted - set(input_ids))
        errors.append(
            _("The inputs' ids differ from the labels' ids (%(extra)d not labelled, %(absent)d labelled but absent).")
            % {"extra": extra, "absent": absent}
        )
    if errors:
        raise DatasetInvalid(errors)
    return len(input_ids)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # the byte-order mark spreadsheet programs write
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetInvalid([_("Line %(line)d is not UTF-8 text.") % {"line": line}]) from None


def _row_problem(fields: list[str], config: ScoringConfig, first_line: dict[str, int], number: int) -> str | None:
    identifier, label = fields[0], fields[1].strip()
    if not identifier.strip():
        return _("Line %(line)d: the id is empty.") % {"line": number}
    if identifier in first_line:
        return _("Line %(line)d: id %(id)s already appears on line %(first)d.") % {
            "line": number,
            "id": identifier,
            "first": first_line[identifier],
        }
    if not label:
        return _("Line %(line)d: the label is empty.") % {"line": number}
    if len(fields) == 3 and fields[2].strip() not in SPLITS:
        return _("Line %(line)d: the split must be %(public)s or %(private)s.") % {
            "line": number,
            "public": SPLIT_PUBLIC,
            "private": SPLIT_PRIVATE,
        }
    if config.output in ("label", "proba"):
        if config.label_type == "int":
            try:
                int(label)
            except ValueError:
                return _("Line %(line)d: the label %(label)s is not a whole number.") % {"line": number, "label": label}
        if config.classes and label not in config.classes:
            return _("Line %(line)d: the label %(label)s is not one of the classes.") % {"line": number, "label": label}
    elif config.output == "value":
        try:
            finite = math.isfinite(float(label))
        except ValueError:
            finite = False
        if not finite:
            return _("Line %(line)d: the label %(label)s is not a finite number.") % {"line": number, "label": label}
    return None


def _split_of(identifier: str, seed: int, public_fraction: float) -> str:
    digest = hashlib.sha256(f"{seed}:{identifier}".encode()).digest()
    return SPLIT_PUBLIC if int.from_bytes(digest[:8], "big") / 2**64 < public_fraction else SPLIT_PRIVATE

"""Strict reading of predictions and labels, and their alignment by id, with reasons an entrant can act on.

Predictions files are parsed here, outside any sandbox: pyarrow's CSV reader (multi-threaded C++) behind a
size limit, a row limit and exact column names. Every check that fails raises ScoringFailed with a code.
"""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringFailed
from services.scorer.metrics import MetricInput

DEFAULT_SPLIT = "test"
PROBABILITY_SUM_TOLERANCE = 1e-3  # float32 model outputs are off by ~1e-7; a real mistake by far more
EXAMPLES = 3


@dataclass(frozen=True)
class Labels:
    """The hidden truth of a phase, host side only: ids (strings), labels, and the split of each row."""

    ids: pa.Array
    values: pa.Array
    splits: pa.Array
    split_names: tuple[str, ...]


@dataclass(frozen=True)
class Predictions:
    """What a submission predicted: ids (strings) and either `values` (labels, numbers, texts) or `proba`."""

    ids: pa.Array
    values: pa.Array | None = None
    proba: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def _value_type(config: ScoringConfig) -> pa.DataType:
    if config.output == "value":
        return pa.float64()
    if config.output in ("label", "proba") and config.label_type == "int":
        return pa.int64()
    return pa.string()


def file_read_limited(*, path: Path, max_bytes: int, what: str) -> bytes:
    """A regular file's bytes, refusing symlinks, FIFOs and anything over `max_bytes` (sandbox output
    sits in a directory the program could write links and pipes into)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ScoringFailed("output_missing", f"No {what} was written.") from None
    except OSError as error:
        raise ScoringFailed("output_invalid", f"The {what} cannot be opened ({error.strerror}).") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ScoringFailed("output_invalid", f"The {what} is not a regular file.")
        if info.st_size > max_bytes:
            raise ScoringFailed(
                "file_too_large",
                f"The {what} is {info.st_size:,} bytes; the limit is {max_bytes:,}.",
                params={"size": info.st_size, "limit": max_bytes},
            )
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ScoringFailed("file_too_large", f"The {what} is over the limit of {max_bytes:,} bytes.")
    return data


# --------------------------------------------------------------------------- labels (host data)


def labels_read(*, path: Path, config: ScoringConfig) -> Labels:
    """Read `id,label[,split]`. A broken labels file is the platform's problem, never the entrant's."""
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={"id": pa.string(), "label": _value_type(config), "split": pa.string()},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as error:
        raise ScoringFailed(
            "labels_invalid", f"The hidden labels cannot be read: {error}", platform_failure=True
        ) from None
    names = table.column_names
    if names[:2] != ["id", "label"] or len(names) > 3 or (len(names) == 3 and names[2] != "split"):
        raise ScoringFailed("labels_invalid", f"Hidden labels have columns {names}", platform_failure=True)
    if any(table.column(name).null_count for name in names) or table.num_rows == 0:
        raise ScoringFailed("labels_invalid", "Hidden labels have empty cells or no rows", platform_failure=True)
    ids = table.column("id").combine_chunks()  # unique ids are checked by predictions_align, in the same hash pass
    if "split" in names:
        splits = table.column("split").combine_chunks()
        # First-appearance order: the first split is the leaderboard's unless the configuration names one.
        split_names = tuple(dict.fromkeys(pc.unique(splits).to_pylist()))
    else:
        splits = pa.array(np.full(len(ids), DEFAULT_SPLIT))
        split_names = (DEFAULT_SPLIT,)
    return Labels(ids=ids, values=table.column("label").combine_chunks(), splits=splits, split_names=split_names)


# --------------------------------------------------------------------------- predictions files


def predictions_read(*, path: Path, config: ScoringConfig) -> Predictions:
    """Parse an entrant's predictions file (CSV, or JSON: a list of objects with the same keys)."""
    data = file_read_limited(path=path, max_bytes=config.max_prediction_bytes, what="predictions file")
    first = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if path.suffix.lower() == ".json" or first in (b"[", b"{"):
        table = _json_table(data, config)
    else:
        table = _csv_table(data, config)
    return _table_predictions(table, config)


def _csv_table(data: bytes, config: ScoringConfig) -> pa.Table:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark, as spreadsheet programs write
    value_type = _value_type(config)
    columns = config.prediction_columns()
    types = {
        "id": pa.string(),
        **{name: (pa.float64() if config.output == "proba" else value_type) for name in columns[1:]},
    }
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=16 * 1024 * 1024),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as error:
        message = str(error).split("\n", 1)[0][:300]
        raise ScoringFailed(
            "predictions_unreadable", f"The predictions file is not valid CSV for this phase: {message}"
        ) from None


class _JsonRejected(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _JsonRejected(f"an object repeats a key ({keys})")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise _JsonRejected(f"{name} is not a number JSON allows")


def _json_table(data: bytes, config: ScoringConfig) -> pa.Table:
    try:
        rows = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (_JsonRejected, ValueError, UnicodeDecodeError) as error:
        raise ScoringFailed("predictions_unreadable", f"The predictions file is not valid JSON: {error}") from None
    if not isinstance(rows, list):
        raise ScoringFailed("predictions_unreadable", "The JSON predictions must be a list of objects, one per row.")
    if len(rows) > config.max_rows:
        raise ScoringFailed(
            "too_many_rows", f"The predictions have {len(rows):,} rows; the limit is {config.max_rows:,}."
        )
    columns = config.prediction_columns()
    wanted = set(columns)
    value_type = _value_type(config)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or set(row) != wanted:
            keys = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ScoringFailed(
                "wrong_columns",
                f"Row {number} of the JSON predictions has {keys}; each row needs exactly {list(columns)}.",
            )
        if isinstance(row["id"], bool) or not isinstance(row["id"], str | int):
            raise ScoringFailed("predictions_unreadable", f"Row {number}: the id must be a string or an integer.")
        for name in columns[1:]:
            if not _json_value_ok(row[name], pa.float64() if config.output == "proba" else value_type):
                raise ScoringFailed(
                    "predictions_unreadable", f"Row {number}: {name} has the wrong type for this phase."
                )
    arrays = {"id": pa.array([str(row["id"]) for row in rows], pa.string())}
    for name in columns[1:]:
        arrays[name] = pa.array([row[name] for row in rows], pa.float64() if config.output == "proba" else value_type)
    return pa.table(arrays)


def _json_value_ok(value: Any, kind: pa.DataType) -> bool:
    if isinstance(value, bool):
        return False
    if kind == pa.string():
        return isinstance(value, str)
    if kind == pa.int64():
        return isinstance(value, int)
    return isinstance(value, int | float)


def _table_predictions(table: pa.Table, config: ScoringConfig) -> Predictions:
    names = table.column_names
    expected = config.prediction_columns()
    if len(names) != len(set(names)) or set(names) != set(expected):
        raise ScoringFailed(
            "wrong_columns",
            f"The predictions have columns {names}; this phase needs exactly {list(expected)} (in any order).",
            params={"found": names, "expected": list(expected)},
        )
    if table.num_rows > config.max_rows:
        raise ScoringFailed(
            "too_many_rows", f"The predictions have {table.num_rows:,} rows; the limit is {config.max_rows:,}."
        )
    for name in expected:
        column = table.column(name)
        if column.null_count:
            row = int(pc.index(pc.is_null(column), True).as_py()) + 2  # + header, 1-based
            raise ScoringFailed("empty_cell", f"Line {row} of the predictions has no {name}.", params={"line": row})
    ids = table.column("id").combine_chunks()
    if config.output == "proba":
        proba = np.column_stack([table.column(c).to_numpy() for c in config.classes]).astype(np.float64, copy=False)
        return Predictions(ids=ids, proba=proba)
    return Predictions(ids=ids, values=table.column("prediction").combine_chunks())


# --------------------------------------------------------------------------- model outputs


def model_predictions(*, ids: pa.Array, output: np.ndarray, config: ScoringConfig) -> Predictions:
    """Predictions from a model's output array, row i being the prediction for input row i."""
    n = len(ids)
    if output.ndim == 2 and output.shape[1] == 1 and config.output != "proba":
        output = output[:, 0]
    rows = output.shape[0] if output.ndim else 0
    if rows != n:
        code = "too_few_rows" if rows < n else "too_many_rows"
        raise ScoringFailed(code, f"The model returned {rows:,} rows for {n:,} inputs.", params={"rows": rows, "n": n})
    if config.output == "proba":
        if output.ndim != 2 or output.shape[1] != len(config.classes):
            raise ScoringFailed(
                "wrong_shape",
                f"The model returned shape {tuple(output.shape)}; this phase needs ({n}, {len(config.classes)}): "
                "one probability per class.",
            )
        if output.dtype.kind not in "fiu":
            raise ScoringFailed("wrong_type", f"The model returned {output.dtype} values; probabilities are numbers.")
        return Predictions(ids=ids, proba=output.astype(np.float64))
    if output.ndim != 1:
        raise ScoringFailed(
            "wrong_shape",
            f"The model returned shape {tuple(output.shape)}; this phase needs ({n},): one value per row.",
        )
    return Predictions(ids=ids, values=_model_values(output, config))


def _model_values(output: np.ndarray, config: ScoringConfig) -> pa.Array:
    kind = output.dtype.kind
    if config.output == "text" or (config.output == "label" and config.label_type == "str"):
        if kind in "US":
            return pa.array(output.astype(str), pa.string())
        if config.output == "label" and kind in "iub":
            return pa.array(output.astype(np.int64).astype(str), pa.string())
        raise ScoringFailed("wrong_type", f"The model returned {output.dtype} values; this phase needs text labels.")
    if kind in "iub":
        return pa.array(output.astype(np.int64 if config.output == "label" else np.float64))
    if kind == "f":
        if config.output == "label":
            finite = np.isfinite(output)
            if not finite.all() or not np.array_equal(output, np.round(output)):
                row = int(np.argmax(~finite | (output != np.round(output)))) + 1
                raise ScoringFailed(
                    "wrong_type", f"Row {row}: the model returned {output[row - 1]!r}; labels are integers."
                )
            return pa.array(output.astype(np.int64))
        return pa.array(output.astype(np.float64))
    raise ScoringFailed("wrong_type", f"The model returned {output.dtype} values; this phase needs numbers.")


# --------------------------------------------------------------------------- alignment and metric inputs


def _examples(values: pa.Array) -> str:
    return ", ".join(repr(v) for v in values.slice(0, EXAMPLES).to_pylist())


def predictions_align(*, predictions: Predictions, labels: Labels) -> np.ndarray:
    """For each hidden id (labels order), the row of its prediction. Raises on duplicate, missing or extra ids.

    One hash pass over the hidden ids followed by the predicted ones (dictionary codes in order of first
    appearance): a hidden id's code is its row, so the hidden ids are unique exactly when their codes
    count up, and a predicted id is unknown when its code lies past them. Hashing a million strings is the
    costly step of scoring a predictions file, so it is done once.
    """
    ids = predictions.ids
    n, expected = len(ids), len(labels.ids)
    codes = pc.dictionary_encode(pa.concat_arrays([labels.ids, ids])).indices.to_numpy(zero_copy_only=False)
    if not np.array_equal(codes[:expected], np.arange(expected)):
        raise ScoringFailed("labels_invalid", "The hidden labels repeat an id", platform_failure=True)
    rows = codes[expected:].astype(np.int64)
    unknown = rows >= expected
    if unknown.any():
        examples = ids.filter(pa.array(unknown))
        raise ScoringFailed(
            "unknown_ids",
            f"{int(unknown.sum()):,} ids are not in the test set, for example {_examples(examples)}.",
            params={"count": int(unknown.sum())},
        )
    counts = np.bincount(rows, minlength=expected)
    if (counts > 1).any():
        repeated = labels.ids.filter(pa.array(counts > 1))
        raise ScoringFailed(
            "duplicate_ids",
            f"{len(repeated):,} ids appear more than once, for example {_examples(repeated)}. Give each id one row.",
            params={"count": len(repeated)},
        )
    if n < expected:
        absent = labels.ids.filter(pa.array(counts == 0))
        raise ScoringFailed(
            "too_few_rows",
            f"The predictions have {n:,} rows for {expected:,} test ids; missing, for example: {_examples(absent)}.",
            params={"rows": n, "expected": expected, "missing": expected - n},
        )
    positions = np.empty(expected, dtype=np.int64)
    positions[rows] = np.arange(n)
    return positions


def _check_finite(values: np.ndarray, ids: pa.Array, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad.reshape(len(values), -1).any(axis=1)))
        raise ScoringFailed(
            "not_finite",
            f"The prediction for id {ids[row].as_py()!r} is {what} that is not a finite number (NaN or infinity).",
            params={"id": ids[row].as_py()},
        )


def metric_inputs(*, config: ScoringConfig, labels: Labels, predictions: Predictions) -> dict[str, MetricInput]:
    """Align predictions to the hidden ids, validate their values, and cut them into one MetricInput per split."""
    positions = predictions_align(predictions=predictions, labels=labels)
    split_codes = pc.index_in(labels.splits, value_set=pa.array(labels.split_names)).to_numpy()
    masks = {name: split_codes == code for code, name in enumerate(labels.split_names)}
    aligned_ids = labels.ids
    if config.output == "proba":
        assert predictions.proba is not None
        proba = predictions.proba[positions]
        _check_finite(proba, aligned_ids, "a probability")
        if (proba < 0).any() or (proba > 1).any():
            row = int(np.argmax(((proba < 0) | (proba > 1)).any(axis=1)))
            raise ScoringFailed(
                "invalid_probabilities", f"Id {aligned_ids[row].as_py()!r} has a probability outside [0, 1]."
            )
        sums = proba.sum(axis=1)
        off = np.abs(sums - 1) > PROBABILITY_SUM_TOLERANCE
        if off.any():
            row = int(np.argmax(off))
            raise ScoringFailed(
                "invalid_probabilities",
                f"The probabilities of id {aligned_ids[row].as_py()!r} sum to {sums[row]:.6g}; they must sum to 1.",
            )
        classes = pa.array([int(c) for c in config.classes] if config.label_type == "int" else list(config.classes))
        t = pc.index_in(labels.values, value_set=classes)
        if t.null_count:
            raise ScoringFailed(
                "labels_invalid", "The hidden labels hold a class the configuration lacks", platform_failure=True
            )
        t_codes = t.to_numpy(zero_copy_only=False).astype(np.int64)
        p_codes = np.argmax(proba, axis=1).astype(np.int64)
        class_labels = tuple(classes.to_pylist())
        return {
            name: MetricInput(n=int(m.sum()), classes=class_labels, t=t_codes[m], p=p_codes[m], proba=proba[m])
            for name, m in masks.items()
        }
    assert predictions.values is not None
    values = predictions.values.take(pa.array(positions))
    if config.output == "label":
        union = pc.unique(pa.concat_arrays([labels.values, values]))
        union = union.take(pc.sort_indices(union))
        t_codes = pc.index_in(labels.values, value_set=union).to_numpy(zero_copy_only=False).astype(np.int64)
        p_codes = pc.index_in(values, value_set=union).to_numpy(zero_copy_only=False).astype(np.int64)
        class_labels = tuple(union.to_pylist())
        return {
            name: MetricInput(n=int(m.sum()), classes=class_labels, t=t_codes[m], p=p_codes[m])
            for name, m in masks.items()
        }
    if config.output == "value":
        y_pred = values.to_numpy(zero_copy_only=False).astype(np.float64)
        _check_finite(y_pred, aligned_ids, "a value")
        y_true = labels.values.to_numpy(zero_copy_only=False).astype(np.float64)
        return {name: MetricInput(n=int(m.sum()), y_true=y_true[m], y_pred=y_pred[m]) for name, m in masks.items()}
    refs = np.array(labels.values.to_pylist(), dtype=object)
    hyps = np.array(values.to_pylist(), dtype=object)
    return {name: MetricInput(n=int(m.sum()), refs=list(refs[m]), hyps=list(hyps[m])) for name, m in masks.items()}

"""Predictions files are parsed strictly on the host: every mistake an entrant can make gets its own reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringConfigError, ScoringFailed
from services.scorer.formats import file_read_limited, labels_read, metric_inputs, predictions_read

LABELS = "id,label\na,1\nb,0\nc,1\nd,2\n"
LABEL = ScoringConfig(output="label", metrics=("accuracy",), label_type="int")
PROBA = ScoringConfig(output="proba", metrics=("log_loss",), classes=("0", "1", "2"), label_type="int")
VALUE = ScoringConfig(output="value", metrics=("rmse",))


@pytest.fixture
def files(tmp_path: Path):
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS, encoding="utf-8")

    def write(text: str | bytes, name: str = "pred.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    return labels, write


def scored(labels: Path, predictions: Path, config: ScoringConfig = LABEL):
    return metric_inputs(
        config=config,
        labels=labels_read(path=labels, config=config),
        predictions=predictions_read(path=predictions, config=config),
    )


def failure(labels: Path, predictions: Path, config: ScoringConfig = LABEL) -> ScoringFailed:
    with pytest.raises(ScoringFailed) as caught:
        scored(labels, predictions, config)
    assert not caught.value.platform_failure
    return caught.value


def test_a_good_csv_in_any_row_and_column_order(files) -> None:
    labels, write = files
    data = scored(labels, write("prediction,id\n2,d\n1,a\n0,b\n0,c\n"))["test"]
    assert data.n == 4 and data.classes == (0, 1, 2)
    assert list(data.t) == [1, 0, 1, 2] and list(data.p) == [1, 0, 0, 2]


def test_a_byte_order_mark_and_crlf_are_fine(files) -> None:
    labels, write = files
    assert scored(labels, write(b"\xef\xbb\xbfid,prediction\r\na,1\r\nb,0\r\nc,1\r\nd,2\r\n"))["test"].n == 4


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("id,label\na,1\n", "wrong_columns", "needs exactly ['id', 'prediction']"),
        ("id,prediction,extra\na,1,x\nb,0,x\nc,1,x\nd,2,x\n", "wrong_columns", "extra"),
        ("id,prediction,prediction\na,1,1\n", "wrong_columns", "needs exactly"),
        ("id,prediction\na,1\nb,0\nc,1\n", "too_few_rows", "missing, for example: 'd'"),
        ("id,prediction\na,1\nb,0\nc,1\nd,2\na,1\n", "duplicate_ids", "'a'"),
        ("id,prediction\na,1\nb,0\nc,1\nd,2\nzz,1\n", "unknown_ids", "'zz'"),
        ("id,prediction\na,1\nb,0\nc,1\nx,2\n", "unknown_ids", "'x'"),
        ("id,prediction\na,1\nb,\nc,1\nd,2\n", "empty_cell", "Line 3"),
        ("id,prediction\na,1\nb,zero\nc,1\nd,2\n", "predictions_unreadable", "zero"),
        ("id,prediction\na,1.5\nb,0\nc,1\nd,2\n", "predictions_unreadable", "1.5"),
        ("id,prediction\na,1\nb,0,7\nc,1\nd,2\n", "predictions_unreadable", "Expected 2 columns"),
        (b"id,prediction\na,1\n\xff\xfe,0\nc,1\nd,2\n", "predictions_unreadable", "UTF"),
    ],
)
def test_csv_mistakes_have_reasons(files, text: str | bytes, code: str, words: str) -> None:
    labels, write = files
    error = failure(labels, write(text))
    assert error.code == code and words in error.reason, error.reason


def test_probabilities_are_checked(files) -> None:
    labels, write = files
    good = "id,0,1,2\na,0.1,0.8,0.1\nb,1,0,0\nc,0.2,0.7,0.1\nd,0,0,1\n"
    data = scored(labels, write(good), PROBA)["test"]
    assert data.proba is not None and data.proba.shape == (4, 3) and list(data.p) == [1, 0, 1, 2]
    for bad, code in [
        (good.replace("a,0.1,0.8,0.1", "a,0.1,0.8,0.3"), "invalid_probabilities"),
        (good.replace("a,0.1,0.8,0.1", "a,-0.1,1.0,0.1"), "invalid_probabilities"),
        (good.replace("a,0.1,0.8,0.1", "a,nan,0.8,0.2"), "not_finite"),
        (good.replace("id,0,1,2", "id,0,1,two"), "wrong_columns"),
    ]:
        assert failure(labels, write(bad), PROBA).code == code


def test_regression_values_must_be_finite(files, tmp_path: Path) -> None:
    labels = tmp_path / "values.csv"
    labels.write_text("id,label\na,1.5\nb,2\n", encoding="utf-8")
    _, write = files
    assert scored(labels, write("id,prediction\na,1\nb,2.5\n"), VALUE)["test"].n == 2
    for bad in ("id,prediction\na,inf\nb,2\n", "id,prediction\na,NaN\nb,2\n"):
        assert failure(labels, write(bad), VALUE).code == "not_finite"


def test_json_predictions_are_strict(files) -> None:
    labels, write = files
    rows = json.dumps([{"id": i, "prediction": p} for i, p in zip("abcd", (1, 0, 1, 2), strict=True)])
    assert scored(labels, write(rows, "p.json"))["test"].n == 4
    for bad, words in [
        ('{"id": "a"}', "a list of objects"),
        (rows.replace('"prediction": 0', '"prediction": 0, "prediction": 1'), "repeats a key"),
        (rows.replace('"prediction": 0', '"prediction": NaN'), "NaN"),
        (rows.replace('"prediction": 0', '"prediction": true'), "wrong type"),
        (rows.replace('"prediction": 0', '"prediction": "0"'), "wrong type"),
        (rows.replace('"prediction": 0}', '"prediction": 0, "x": 1}'), "needs exactly"),
        (rows[:-10], "not valid JSON"),
    ]:
        assert words in failure(labels, write(bad, "p.json")).reason


def test_size_and_row_limits(files) -> None:
    labels, write = files
    small = ScoringConfig(output="label", metrics=("accuracy",), label_type="int", max_prediction_bytes=20, max_rows=3)
    assert failure(labels, write("id,prediction\na,1\nb,0\nc,1\nd,2\n"), small).code == "file_too_large"
    rows = ScoringConfig(output="label", metrics=("accuracy",), label_type="int", max_rows=3)
    assert failure(labels, write("id,prediction\na,1\nb,0\nc,1\nd,2\n"), rows).code == "too_many_rows"


def test_reading_scratch_refuses_links_and_pipes(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/etc/hostname")
    import os

    os.mkfifo(tmp_path / "fifo")
    for name in ("link", "fifo"):
        with pytest.raises(ScoringFailed):
            file_read_limited(path=tmp_path / name, max_bytes=100, what="output")


@pytest.mark.parametrize("text", ["id,label\na,1\na,2\n", "id,label\na,1\nb,\n", "id,truth\na,1\n", "id,label\n"])
def test_broken_hidden_labels_are_the_platforms_failure(tmp_path: Path, files, text: str) -> None:
    _, write = files
    broken = tmp_path / "broken.csv"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ScoringFailed) as caught:
        scored(broken, write("id,prediction\na,1\n"))
    assert caught.value.platform_failure and caught.value.code == "labels_invalid"


def test_splits_come_from_the_labels(tmp_path: Path, files) -> None:
    _, write = files
    labels = tmp_path / "split.csv"
    labels.write_text("id,label,split\na,1,public\nb,0,private\nc,1,public\nd,2,private\n", encoding="utf-8")
    data = scored(labels, write("id,prediction\na,1\nb,1\nc,1\nd,2\n"))
    assert list(data) == ["public", "private"] and data["public"].n == 2
    assert np.array_equal(data["private"].t, [0, 2])


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"output": "label", "metrics": ()}, "at least one metric"),
        ({"output": "label", "metrics": ("log_loss",)}, "needs scores"),
        ({"output": "value", "metrics": ("accuracy",)}, "needs labels"),
        ({"output": "proba", "metrics": ("log_loss",), "classes": ("a",)}, "two or more"),
        ({"output": "label", "metrics": ("accuracy",), "metric_params": {"f1_macro": {}}}, "not among"),
        ({"output": "label", "metrics": ("nope",)}, "unknown metric"),
        ({"output": "label", "metrics": ("x y",), "custom_metrics": {"x y": {}}}, "custom metric name"),
        ({"output": "guess", "metrics": ("accuracy",)}, "output must be"),
    ],
)
def test_bad_configurations_are_refused(settings: dict, words: str) -> None:
    with pytest.raises(ScoringConfigError, match=words):
        ScoringConfig(**settings)
    with pytest.raises(ScoringConfigError, match="unknown scoring setting"):
        ScoringConfig.from_dict({"output": "label", "metrics": ["accuracy"], "colour": "red"})

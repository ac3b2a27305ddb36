"""The demo competition's task: scikit-learn's handwritten digits split for a competition, and its baseline.

The baseline (a logistic regression as ONNX, and its predictions on the test split) is made once by this
script and shipped in competitions/demo_files/, so loading the demo trains nothing and imports neither
scikit-learn nor skl2onnx:

    .venv/bin/python -m competitions.digits    # writes the two files again; commit them if they changed
"""

from __future__ import annotations

import csv
import importlib.util
import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRAIN_ROWS = 1200  # of 1,797; the other 597 are the hidden test set
DEMO_FILES = Path(__file__).resolve().parent / "demo_files"
BASELINE_MODEL = DEMO_FILES / "baseline_model.onnx"
BASELINE_PREDICTIONS = DEMO_FILES / "baseline_predictions.csv"


@dataclass(frozen=True)
class DigitsTask:
    """The digits split for the competition, and everything a host or entrant file is made of."""

    x_train: np.ndarray
    y_train: np.ndarray
    test_ids: list[str]
    x_test: np.ndarray
    y_test: np.ndarray

    def labels_csv(self) -> bytes:
        return _csv(["id", "label"], zip(self.test_ids, self.y_test.tolist(), strict=True))

    def inputs_npz(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, id=np.array(self.test_ids), x=self.x_test)
        return buffer.getvalue()

    def training_csv(self) -> bytes:
        header = ["label", *(f"pixel{i}" for i in range(self.x_train.shape[1]))]
        return _csv(header, ([int(y), *map(int, x)] for x, y in zip(self.x_train, self.y_train, strict=True)))

    def test_inputs_csv(self) -> bytes:
        """The test inputs without labels, for entrants who predict offline and upload a predictions file."""
        header = ["id", *(f"pixel{i}" for i in range(self.x_test.shape[1]))]
        return _csv(header, ([i, *map(int, x)] for i, x in zip(self.test_ids, self.x_test, strict=True)))

    def predictions_csv(self, predicted: np.ndarray) -> bytes:
        return _csv(["id", "prediction"], zip(self.test_ids, predicted.tolist(), strict=True))


def digits_task() -> DigitsTask:
    """The 1,797 digits of scikit-learn's bundled set, as `load_digits` gives them, split train / test.

    Read from scikit-learn's own data file: importing scikit-learn to call `load_digits` costs seconds.
    """
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    assert spec is not None and spec.submodule_search_locations, "scikit-learn is a dependency of the demo"
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    data = np.loadtxt(path, delimiter=",")  # 64 pixels then the label, as load_digits reads it
    x, y = data[:, :-1].astype(np.float32), data[:, -1].astype(int)
    return DigitsTask(
        x_train=x[:TRAIN_ROWS],
        y_train=y[:TRAIN_ROWS],
        test_ids=[f"d{i:04d}" for i in range(len(y) - TRAIN_ROWS)],
        x_test=x[TRAIN_ROWS:],
        y_test=y[TRAIN_ROWS:],
    )


def baseline_model(task: DigitsTask) -> tuple[bytes, np.ndarray]:
    """A logistic regression as ONNX (skl2onnx; labels and probabilities, no zipmap) and its test predictions."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a baseline only needs to be decent
        model = LogisticRegression(max_iter=300).fit(task.x_train, task.y_train)
    onnx = to_onnx(model, task.x_train[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    return onnx.SerializeToString(), model.predict(task.x_test)


def _csv(header: list[str], rows: Iterable[Iterable[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    task = digits_task()
    model, predicted = baseline_model(task)
    DEMO_FILES.mkdir(exist_ok=True)
    BASELINE_MODEL.write_bytes(model)
    BASELINE_PREDICTIONS.write_bytes(task.predictions_csv(predicted))
    print(f"wrote {BASELINE_MODEL} ({len(model):,} bytes) and {BASELINE_PREDICTIONS}")


if __name__ == "__main__":
    main()

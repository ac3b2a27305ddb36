"""Scoring benchmark: sandbox start-to-exit overhead, and scoring a 1,000,000-row predictions CSV.

Run from the repository root, as root (the local sandbox backends need it):  .venv/bin/python bench/scoring.py

1. Sandbox overhead. A trivial program (/usr/bin/true) run N times through services.scorer.sandbox.sandbox_run
   with the auto-detected backend (bubblewrap where installed), interleaved with N bare runs of the same
   program (subprocess.run, same process). Medians; sandbox_overhead_ms = sandbox_ms - bare_ms. The whole
   sandbox is measured: building the view, fresh namespaces, the reaper as PID 1 (a Python start, which
   reports the program's exact CPU and peak memory), the rlimit/uid/user-namespace drop chain, output
   pumping and the wait for the namespace to be gone. The unshare backend is measured too, for reference.
2. Scoring 1,000,000 rows. A labels CSV (id,label; 10 classes) and a predictions CSV in shuffled row order
   (id,prediction; 80 % right), ~11 MB each, under bench/out/scoring. Ours: services.scorer.scoring.
   submission_score on the predictions file, i.e. parsing both files (pyarrow), aligning by id, accuracy and
   F1 macro per split, the primary metric's 1,000-resample bootstrap interval and the reproducibility record
   (file hashes recomputed every round). Baseline in the same run: pandas.read_csv of both files, a merge on
   id, scikit-learn's accuracy_score and f1_score(average="macro"). Median of 3 rounds each, interleaved,
   after one untimed round each.

Not measured here: end-to-end submission → leaderboard (`e2e_p50_s`) needs the dispatcher, which is not
built yet. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make services/ importable

OUT = ROOT / "bench" / "out" / "scoring"  # bench/out is git-ignored
ROWS = 1_000_000
CLASSES = 10
ROUNDS = 3


def sandbox_overhead(runs: int) -> dict[str, float | str]:
    from services.scorer.sandbox import sandbox_run
    from services.scorer.sandbox.backends import backend_detect, backend_named

    backend = backend_detect()
    unshare = backend_named("unshare")
    timings: dict[str, list[float]] = {"sandbox": [], "bare": [], "unshare": [], "python": []}
    # The reaper is a Python start inside the sandbox: timed bare, it says how much of the overhead it is.
    python = [os.path.realpath(sys.executable), "-I", "-S", "-B", "-c", "import os, signal"]
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        scratch = Path(tmp)
        for warmup in range(3):
            sandbox_run(argv=["/usr/bin/true"], scratch=scratch, backend=backend)
            sandbox_run(argv=["/usr/bin/true"], scratch=scratch, backend=unshare)
            subprocess.run(["/usr/bin/true"], check=True)
            del warmup
        for _ in range(runs):
            started = time.perf_counter()
            assert sandbox_run(argv=["/usr/bin/true"], scratch=scratch, backend=backend).ok
            timings["sandbox"].append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(["/usr/bin/true"], check=True)
            timings["bare"].append(time.perf_counter() - started)
            started = time.perf_counter()
            assert sandbox_run(argv=["/usr/bin/true"], scratch=scratch, backend=unshare).ok
            timings["unshare"].append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(python, check=True)
            timings["python"].append(time.perf_counter() - started)
    medians = {key: statistics.median(values) * 1000 for key, values in timings.items()}
    p90 = statistics.quantiles(timings["sandbox"], n=10)[-1] * 1000
    print(f"sandbox ({backend.name}) median {medians['sandbox']:.1f} ms (p90 {p90:.1f}), bare {medians['bare']:.2f} ms")
    print(
        f"sandbox (unshare) median {medians['unshare']:.1f} ms; a bare `python -I -S` start {medians['python']:.1f} ms"
    )
    return {
        "sandbox_backend": backend.name,
        "sandbox_ms": round(medians["sandbox"], 2),
        "bare_ms": round(medians["bare"], 2),
        "sandbox_overhead_ms": round(medians["sandbox"] - medians["bare"], 2),
        "sandbox_p90_ms": round(p90, 2),
        "unshare_ms": round(medians["unshare"], 2),
        "python_start_ms": round(medians["python"], 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def write_data() -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    OUT.mkdir(parents=True, exist_ok=True)
    labels, predictions = OUT / "labels.csv", OUT / "predictions.csv"
    if labels.exists() and predictions.exists():
        return labels, predictions
    rng = np.random.default_rng(20261127)
    ids = np.char.add("row", np.arange(ROWS).astype(str))
    truth = rng.integers(0, CLASSES, ROWS)
    predicted = np.where(rng.random(ROWS) < 0.8, truth, rng.integers(0, CLASSES, ROWS))
    pacsv.write_csv(pa.table({"id": ids, "label": truth}), labels)
    order = rng.permutation(ROWS)
    pacsv.write_csv(pa.table({"id": ids[order], "prediction": predicted[order]}), predictions)
    return labels, predictions


def score_ours(labels: Path, predictions: Path, work: Path) -> tuple[float, dict[str, float]]:
    from services.scorer.config import ScoringConfig
    from services.scorer.reproducibility import _file_sha256
    from services.scorer.runners import RunContext
    from services.scorer.scoring import HiddenData, submission_score

    _file_sha256.cache_clear()  # hash the files every round, as a worker seeing them for the first time
    config = ScoringConfig(output="label", metrics=("accuracy", "f1_macro"), label_type="int")
    started = time.perf_counter()
    report = submission_score(
        submission=predictions,
        kind="predictions",
        config=config,
        hidden=HiddenData(labels=labels),
        context=RunContext(work_dir=work),
    )
    return time.perf_counter() - started, report.scores["test"]


def score_baseline(labels: Path, predictions: Path) -> tuple[float, dict[str, float]]:
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    started = time.perf_counter()
    truth = pd.read_csv(labels, dtype={"id": str})
    predicted = pd.read_csv(predictions, dtype={"id": str})
    merged = truth.merge(predicted, on="id", how="left", validate="one_to_one")
    scores = {
        "accuracy": accuracy_score(merged["label"], merged["prediction"]),
        "f1_macro": f1_score(merged["label"], merged["prediction"], average="macro"),
    }
    return time.perf_counter() - started, scores


def scoring() -> dict[str, float]:
    labels, predictions = write_data()
    sizes = f"labels {labels.stat().st_size / 1e6:.1f} MB, predictions {predictions.stat().st_size / 1e6:.1f} MB"
    print(f"data: {ROWS:,} rows, {sizes}")
    ours, baseline = [], []
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        # One untimed round each first: a worker scores many submissions, so first-use costs (pyarrow's
        # thread pool, reading package metadata for the record) are not what a submission waits for.
        score_ours(labels, predictions, Path(tmp) / "warmup")
        score_baseline(labels, predictions)
        for round_number in range(ROUNDS):
            seconds, our_scores = score_ours(labels, predictions, Path(tmp) / str(round_number))
            ours.append(seconds)
            seconds, their_scores = score_baseline(labels, predictions)
            baseline.append(seconds)
            for name, value in their_scores.items():
                assert abs(our_scores[name] - value) < 1e-12, (name, our_scores[name], value)
    ours_s, baseline_s = statistics.median(ours), statistics.median(baseline)
    print(
        f"score 1M rows: ours {ours_s:.3f} s (rounds {', '.join(f'{s:.3f}' for s in ours)}), "
        f"pandas + scikit-learn {baseline_s:.3f} s (rounds {', '.join(f'{s:.3f}' for s in baseline)})"
    )
    return {
        "score_1m_s": round(ours_s, 3),
        "score_baseline_s": round(baseline_s, 3),
        "score_vs_baseline": round(ours_s / baseline_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="sandbox and bare runs each (default 50)")
    parser.add_argument("--only", choices=["sandbox", "score"])
    args = parser.parse_args()
    figures: dict[str, float | str] = {}
    if args.only in (None, "sandbox"):
        figures.update(sandbox_overhead(args.runs))
    if args.only in (None, "score"):
        figures.update(scoring())
    print("e2e_p50_s: not measured (needs the dispatcher: submission event → Celery job → leaderboard)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

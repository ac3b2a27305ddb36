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

3. End to end (`e2e_p50_s`): the digits demo through the whole stack, as `make run` runs it. A stack of its
   own (bench/out/scoring-stack, free ports), migrated and loaded with the demo; the relay, the scorer's
   dispatcher, the competitions consumer and one CPU scoring worker run as real processes. Each round the
   demo entrant submits (competitions.services.submission_create, as the web form and the API do) the
   baseline predictions file, then the baseline ONNX model (which runs in the sandbox); the clock stops
   when the submission's leaderboard row shows it (the database polled every 10 ms). Medians over the
   rounds, after one untimed warm-up submission of each kind.

The last line printed is one JSON object with every figure.
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


def end_to_end(rounds: int) -> dict[str, float]:
    import shutil

    from infra.run import background_commands
    from infra.stack import Stack

    data_dir = OUT.parent / "scoring-stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    stack = Stack(data_dir, ports="auto", parts=("postgres", "redis", "kafka"))
    processes: list[subprocess.Popen] = []
    try:
        clean = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_SERVERS")) and k != "WANZHI_ENV_FILE"}
        env = {**clean, **stack.up(), "WANZHI_ENV_FILE": str(data_dir / "stack.env"), "LOG_LEVEL": "WARNING"}
        env["PRIVATE_MEDIA_ROOT"] = str(data_dir / "private")
        for args in (["migrate", "--noinput"], ["kafka_topics"], ["load_demo"]):
            subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, capture_output=True
            )
        wanted = ("services", "score-cpu")  # the relay, the dispatcher and the competitions consumer among them
        commands = background_commands(data_dir, gpus=[])
        with (data_dir / "services.log").open("wb") as log:
            for name in wanted:
                processes.append(subprocess.Popen(commands[name], cwd=ROOT, env=env, stdout=log, stderr=log))
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
        import django

        django.setup()
        return _submit_rounds(rounds)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        stack.down()


def _submit_rounds(rounds: int) -> dict[str, float]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from competitions import demo
    from competitions.models import Competition, DataFile, LeaderboardEntry, Submission, TeamMembership
    from competitions.services import phase_update, submission_create
    from hub.accounts.models import User

    phase = Competition.objects.get(slug=demo.SLUG).phases.get()
    phase_update(phase=phase, by=User.objects.get(username="host"), fields={"daily_limit": 100})
    entrant = User.objects.get(username="entrant")
    team = TeamMembership.objects.get(competition=phase.competition, user=entrant).team
    files = {
        data_file.original_name: data_file.file.open("rb").read()
        for data_file in DataFile.objects.filter(phase=phase, role=DataFile.Role.TRAINING)
    }
    kinds = {"predictions": "baseline_predictions.csv", "onnx": "baseline_model.onnx"}
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_number in range(rounds + 1):
        for kind, name in kinds.items():
            # The leaderboard keeps a team's best: clear its rows, so the refresh this submission causes shows.
            LeaderboardEntry.objects.filter(team=team).delete()
            started = time.monotonic()
            submission = submission_create(
                phase=phase, team=team, upload=SimpleUploadedFile(name, files[name]), kind=kind, by=entrant
            )
            while not LeaderboardEntry.objects.filter(team=team).exists():
                status = Submission.objects.values_list("status", "failure_reason").get(pk=submission.pk)
                if status[0] in ("failed", "cancelled"):
                    raise RuntimeError(f"{kind} submission {status[0]}: {status[1]}")
                if time.monotonic() - started > 120:
                    raise RuntimeError(f"{kind} submission not on the leaderboard after 120 s (status {status[0]})")
                time.sleep(0.01)
            if round_number:  # the first round warms up workers and consumers
                timings[kind].append(time.monotonic() - started)
    figures = {
        "e2e_p50_s": round(statistics.median(timings["predictions"]), 3),
        "e2e_onnx_p50_s": round(statistics.median(timings["onnx"]), 3),
    }
    print(
        f"end to end, submission → leaderboard ({rounds} rounds): predictions p50 {figures['e2e_p50_s']} s, "
        f"ONNX model p50 {figures['e2e_onnx_p50_s']} s (goal ≤ 2 s)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="sandbox and bare runs each (default 50)")
    parser.add_argument("--only", choices=["sandbox", "score", "e2e"])
    parser.add_argument("--rounds", type=int, default=10, help="end-to-end rounds per kind (default 10)")
    args = parser.parse_args()
    figures: dict[str, float | str] = {}
    if args.only in (None, "sandbox"):
        figures.update(sandbox_overhead(args.runs))
    if args.only in (None, "score"):
        figures.update(scoring())
    if args.only in (None, "e2e"):
        figures.update(end_to_end(args.rounds))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

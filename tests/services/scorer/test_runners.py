"""Scoring submissions end to end with the real sandbox: one happy path per runner, hostile and broken
submissions failing with a reason the entrant can act on, the host's scoring program, and reproducibility."""

from __future__ import annotations

import json
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss

from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringFailed
from services.scorer.runners import RunContext
from services.scorer.scoring import HiddenData, submission_score
from tests.services.scorer.conftest import Digits, package_files, sandbox_processes


def score(kind: str, submission: Path, config: ScoringConfig, hidden: HiddenData, context: RunContext, **kw: object):
    return submission_score(submission=submission, kind=kind, config=config, hidden=hidden, context=context, **kw)  # type: ignore[arg-type]


def expected_scores(digits: Digits, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    return {
        split: {
            "accuracy": accuracy_score(digits.y_test[digits.splits == split], predicted[digits.splits == split]),
            "f1_macro": f1_score(
                digits.y_test[digits.splits == split], predicted[digits.splits == split], average="macro"
            ),
        }
        for split in ("public", "private")
    }


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- happy paths


def test_a_predictions_csv_is_scored_exactly(
    digits: Digits, hidden: HiddenData, label_config, context, tmp_path
) -> None:
    predicted = np.where(np.arange(len(digits.y_test)) % 7 == 0, (digits.y_test + 1) % 10, digits.y_test)
    order = np.random.default_rng(3).permutation(len(predicted))  # row order is free
    rows = [f"{digits.ids[i]},{predicted[i]}" for i in order]
    report = score("predictions", write_csv(tmp_path / "p.csv", "id,prediction", rows), label_config, hidden, context)
    expected = expected_scores(digits, predicted)
    for split in expected:
        assert report.scores[split] == pytest.approx(expected[split], abs=1e-9, rel=1e-9)
    assert report.sandbox_backend is None and report.device_kind == "cpu"
    assert (
        report.primary_ci is not None
        and report.primary_ci.low <= report.scores["public"]["accuracy"] <= report.primary_ci.high
    )
    assert report.display["public"]["accuracy"] == f"{report.scores['public']['accuracy']:.4f}"


def test_a_digits_onnx_model_is_scored_in_the_sandbox(digits: Digits, hidden: HiddenData, context, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression  # the same model, to know what the scores must be

    model = tmp_path / "model.onnx"
    model.write_bytes(digits.model)
    config = ScoringConfig(output="proba", metrics=("log_loss", "accuracy"), classes=tuple(range(10)), label_type="int")
    progress: list[int] = []
    context = RunContext(work_dir=context.work_dir, limits=context.limits, on_progress=progress.append)
    report = score("onnx", model, config, hidden, context)
    assert report.sandbox_backend == "bwrap" and report.peak_memory_bytes > 20 << 20 and report.cpu_seconds > 0
    assert progress[0] == 0 and progress[-1] == 100
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = LogisticRegression(max_iter=200).fit(digits.x_train, digits.y_train)
    proba = reference.predict_proba(digits.x_test)
    public = digits.splits == "public"
    # float32 inference inside vs float64 here: equal to what single precision allows
    assert report.scores["public"]["log_loss"] == pytest.approx(
        log_loss(digits.y_test[public], proba[public]), rel=1e-4
    )
    assert report.scores["public"]["accuracy"] == pytest.approx(
        accuracy_score(digits.y_test[public], proba[public].argmax(axis=1)), abs=1e-9
    )


def test_a_python_package_is_scored_in_the_sandbox(digits: Digits, hidden, label_config, context, make_zip) -> None:
    # The package learns nothing: it predicts 3 for dark images and 7 otherwise, so the scores are known.
    package = make_zip(package_files("    return np.where(x.sum(axis=1) > 300, 3, 7)"))
    report = score("package", package, label_config, hidden, context)
    predicted = np.where(digits.x_test.sum(axis=1) > 300, 3, 7)
    expected = expected_scores(digits, predicted)
    for split in expected:
        assert report.scores[split] == pytest.approx(expected[split], abs=1e-9, rel=1e-9)
    assert report.reproducibility["sandbox_backend"] == "bwrap"


def test_a_tar_package_inside_a_folder_works_too(digits: Digits, hidden, label_config, context, make_tar) -> None:
    files = package_files("    return np.zeros(len(x), dtype=int)")
    package = make_tar([(f"team/{name}", tarfile.REGTYPE, text) for name, text in files.items()])
    report = score("package", package, label_config, hidden, context)
    assert report.scores["public"]["accuracy"] == pytest.approx(np.mean(digits.y_test[digits.splits == "public"] == 0))


# --------------------------------------------------------------------------- hostile and broken submissions


def test_the_hidden_labels_beside_the_inputs_are_not_visible(
    digits, hidden: HiddenData, label_config, context, make_zip
) -> None:
    marker = f"labels-{uuid.uuid4().hex}.csv"
    secret = hidden.labels.with_name(marker)
    secret.write_text(hidden.labels.read_text(encoding="utf-8"), encoding="utf-8")
    body = f"""
    import os, sys
    platform = ("/usr", "/proc", "/dev", sys.base_prefix, sys.prefix)  # the read-only interpreter and system
    for path in ({str(secret)!r}, {str(hidden.labels)!r}, "/data/labels.csv", "/data/../labels.csv"):
        if os.path.exists(path):
            raise SystemExit("LEAK " + path)
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if not os.path.join(root, d).startswith(platform)]
        if {marker!r} in files or "labels.csv" in files:
            raise SystemExit("LEAK " + root)
    raise RuntimeError("no labels anywhere: " + ", ".join(sorted(os.listdir("/data"))))"""
    package = make_zip(package_files(body.replace("\n    ", "\n    ")))
    with pytest.raises(ScoringFailed) as failure:
        score("package", package, label_config, hidden, context)
    assert failure.value.code == "predict_failed" and "no labels anywhere: inputs.npz" in failure.value.reason
    assert "LEAK" not in failure.value.log_tail


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ({"../escape.py": "x = 1"}, "climbs out"),
        ({"/etc/cron.d/job": "x"}, "absolute path"),
        ({"a\\..\\b.py": "x"}, "not a plain relative path"),
    ],
)
def test_zips_with_escaping_paths_are_refused(
    entries, reason, hidden, label_config, context, make_zip, tmp_path
) -> None:
    package = make_zip({**package_files("    return x"), **entries})
    with pytest.raises(ScoringFailed) as failure:
        score("package", package, label_config, hidden, context)
    assert failure.value.code == "unsafe_archive" and reason in failure.value.reason
    assert not (tmp_path / "escape.py").exists() and not (context.work_dir / "escape.py").exists()


def test_a_zip_with_a_symlink_is_refused(hidden, label_config, context, make_zip) -> None:
    package = make_zip(package_files("    return x"), links={"data.csv": "/etc/shadow"})
    with pytest.raises(ScoringFailed, match="symbolic link"):
        score("package", package, label_config, hidden, context)


@pytest.mark.parametrize(
    ("kind", "target"), [(tarfile.SYMTYPE, "/etc/shadow"), (tarfile.LNKTYPE, "model.py"), (tarfile.CHRTYPE, "")]
)
def test_tars_with_links_or_devices_are_refused(kind, target, hidden, label_config, context, make_tar) -> None:
    files = [(name, tarfile.REGTYPE, text) for name, text in package_files("    return x").items()]
    package = make_tar([*files, ("evil", kind, target)])
    with pytest.raises(ScoringFailed) as failure:
        score("package", package, label_config, hidden, context)
    assert failure.value.code == "unsafe_archive"


def test_a_zip_bomb_is_refused_before_it_fills_the_disk(hidden, label_config, context, make_zip) -> None:
    package = make_zip({**package_files("    return x"), "weights.bin": b"\0" * (20 * 1024 * 1024)})
    assert package.stat().st_size < 1024 * 1024
    with pytest.raises(ScoringFailed, match=r"zip bomb|more than"):
        score("package", package, label_config, hidden, context)
    written = sum(p.stat().st_size for p in context.work_dir.rglob("*") if p.is_file())
    assert written < 1024 * 1024


def test_a_file_that_is_not_onnx_fails_with_a_reason(hidden, label_config, context, tmp_path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"PK\x03\x04 this is not a protobuf" * 100)
    with pytest.raises(ScoringFailed) as failure:
        score("onnx", fake, label_config, hidden, context)
    assert failure.value.code == "model_invalid" and "not an ONNX model" in failure.value.reason
    assert not failure.value.platform_failure


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ("    return np.zeros((len(x), 2))", "wrong_shape", "needs ("),
        ("    return np.full(len(x), np.nan)", "wrong_type", "labels are integers"),
        ("    return np.zeros(len(x) - 1, dtype=int)", "wrong_shape", "rows for a batch"),
        ("    raise ValueError('my model broke')", "predict_failed", "my model broke"),
        ("    return [object()] * len(x)", "output_invalid", "neither numbers nor strings"),
    ],
)
def test_broken_package_outputs_fail_with_a_reason(body, code, words, hidden, label_config, context, make_zip) -> None:
    with pytest.raises(ScoringFailed) as failure:
        score("package", make_zip(package_files(body)), label_config, hidden, context)
    assert failure.value.code == code and words in failure.value.reason
    assert sandbox_processes() == []


def test_nan_values_in_a_regression_fail(hidden: HiddenData, context, make_zip, digits) -> None:
    config = ScoringConfig(output="value", metrics=("rmse",))
    package = make_zip(package_files("    out = np.zeros(len(x)); out[len(x) // 2] = np.nan; return out"))
    with pytest.raises(ScoringFailed) as failure:
        score("package", package, config, hidden, context)
    assert failure.value.code == "not_finite" and "NaN" in failure.value.reason


def test_a_package_that_hits_a_limit_says_which(hidden, label_config, context, make_zip) -> None:
    context = RunContext(work_dir=context.work_dir, limits=context.limits.__class__(wall_seconds=3, cpu_seconds=60))
    package = make_zip(package_files("    import time; time.sleep(60)"))
    with pytest.raises(ScoringFailed) as failure:
        score("package", package, label_config, hidden, context)
    assert failure.value.code == "limit_wall_clock" and "3 s" in failure.value.reason


def test_predictions_with_too_few_rows_name_the_missing_ids(digits, hidden, label_config, context, tmp_path) -> None:
    rows = [f"{i},{y}" for i, y in zip(digits.ids[:-5], digits.y_test[:-5], strict=True)]
    with pytest.raises(ScoringFailed) as failure:
        score("predictions", write_csv(tmp_path / "p.csv", "id,prediction", rows), label_config, hidden, context)
    assert failure.value.code == "too_few_rows" and repr(str(digits.ids[-5])) in failure.value.reason


def test_a_model_that_returns_too_few_rows_fails(digits, hidden, label_config, context, make_zip) -> None:
    config = ScoringConfig(output="label", metrics=("accuracy",), label_type="int", batch_size=10_000)
    package = make_zip(package_files("    return np.zeros(len(x), dtype=int)[:-3]"))
    with pytest.raises(ScoringFailed) as failure:
        score("package", package, config, hidden, context)
    assert failure.value.code == "wrong_shape"


def test_hidden_inputs_that_disagree_with_the_labels_are_the_platforms_fault(
    digits, hidden, label_config, context, make_zip
):
    with np.load(hidden.inputs) as data:
        np.savez(hidden.inputs, id=np.char.add(data["id"], "-moved"), x=data["x"])
    with pytest.raises(ScoringFailed) as failure:
        score(
            "package", make_zip(package_files("    return np.zeros(len(x), dtype=int)")), label_config, hidden, context
        )
    assert failure.value.code == "hidden_data_mismatch" and failure.value.platform_failure


# --------------------------------------------------------------------------- the host's scoring program


def custom_config() -> ScoringConfig:
    return ScoringConfig(
        output="label",
        metrics=("weighted_hits", "accuracy"),
        label_type="int",
        custom_metrics={"weighted_hits": {"higher_is_better": True, "precision": 3}},
    )


PROGRAM = """
import csv, json, sys
predictions = {row["id"]: row["prediction"] for row in csv.DictReader(open(sys.argv[1]))}
scores = {}
for row in csv.DictReader(open(sys.argv[2])):
    hit = predictions[row["id"]] == row["label"]
    totals = scores.setdefault(row["split"], [0, 0])
    totals[0] += hit * (2 if row["label"] == "0" else 1)
    totals[1] += 1
print(json.dumps({split: {"weighted_hits": hits / n} for split, (hits, n) in scores.items()}))
"""


def test_a_hosts_scoring_program_runs_in_the_sandbox(digits, hidden, context, tmp_path) -> None:
    program = tmp_path / "score.py"
    program.write_text(PROGRAM, encoding="utf-8")
    rows = [f"{i},{y}" for i, y in zip(digits.ids, digits.y_test, strict=True)]
    report = score(
        "predictions",
        write_csv(tmp_path / "p.csv", "id,prediction", rows),
        custom_config(),
        hidden,
        context,
        program=program,
    )
    public = digits.splits == "public"
    assert report.scores["public"]["accuracy"] == 1.0
    expected = np.mean(np.where(digits.y_test[public] == 0, 2, 1))
    assert report.scores["public"]["weighted_hits"] == pytest.approx(expected, abs=1e-12)
    assert report.primary_ci is None and report.sandbox_backend == "bwrap"
    assert report.reproducibility["program_sha256"] is not None


@pytest.mark.parametrize(
    "output",
    [
        'print("not json")',
        'print(\'{"public": {"weighted_hits": NaN}, "private": {"weighted_hits": 1}}\')',
        'print(\'{"public": {"weighted_hits": 1}}\')',
        'print(\'{"public": {"weighted_hits": 1, "extra": 2}, "private": {"weighted_hits": 1, "extra": 2}}\')',
        'print(\'{"public": {"weighted_hits": true}, "private": {"weighted_hits": 1}}\')',
        "import sys; sys.exit(2)",
    ],
)
def test_a_scoring_programs_bad_output_is_a_platform_failure(output, digits, hidden, context, tmp_path) -> None:
    program = tmp_path / "score.py"
    program.write_text(output, encoding="utf-8")
    rows = [f"{i},{y}" for i, y in zip(digits.ids, digits.y_test, strict=True)]
    with pytest.raises(ScoringFailed) as failure:
        score(
            "predictions",
            write_csv(tmp_path / "p.csv", "id,prediction", rows),
            custom_config(),
            hidden,
            context,
            program=program,
        )
    assert failure.value.code == "scoring_program_failed" and failure.value.platform_failure


# --------------------------------------------------------------------------- reproducibility


def test_rescoring_gives_the_identical_score_and_record(digits, hidden, context, tmp_path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(digits.model)
    config = ScoringConfig(
        output="proba", metrics=("roc_auc_ovr", "accuracy"), classes=tuple(range(10)), label_type="int"
    )
    first = score("onnx", model, config, hidden, RunContext(work_dir=tmp_path / "one", limits=context.limits))
    second = score("onnx", model, config, hidden, RunContext(work_dir=tmp_path / "two", limits=context.limits))
    assert first.scores == second.scores and first.primary_ci == second.primary_ci
    assert first.reproducibility == second.reproducibility
    record = first.reproducibility
    assert record["runtime"]["onnxruntime"] and record["runtime"]["numpy"] and record["runtime"]["python"]
    assert record["sandbox_backend"] == "bwrap" and len(record["submission_sha256"]) == 64
    assert record["hidden_inputs_sha256"] != record["hidden_labels_sha256"]
    changed = ScoringConfig(output="proba", metrics=("roc_auc_ovr",), classes=tuple(range(10)), label_type="int")
    assert changed.sha256() != record["config_sha256"]
    assert ScoringConfig.from_dict(json.loads(config.canonical_json())) == config


def test_work_on_the_host_stays_in_the_job_dir(
    digits, hidden, label_config, context, make_zip: Callable[..., Path]
) -> None:
    package = make_zip(
        package_files("    open('/scratch/junk', 'w').write('x' * 1000); return np.zeros(len(x), dtype=int)")
    )
    score("package", package, label_config, hidden, context)
    assert (context.work_dir / "scratch" / "junk").stat().st_size == 1000
    assert sorted(p.name for p in hidden.labels.parent.iterdir()) == ["inputs.npz", "labels.csv"]

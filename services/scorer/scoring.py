"""Score one submission: run it (sandboxed where it is code), compute every metric per split outside the
sandbox against the hidden labels, add the primary metric's bootstrap interval and the reproducibility record.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringFailed
from services.scorer.formats import labels_read, metric_inputs
from services.scorer.hidden import HiddenData
from services.scorer.metrics import ConfidenceInterval, bootstrap_ci, metric_compute
from services.scorer.reproducibility import reproducibility_record
from services.scorer.runners import RunContext, program_scores, submission_run

log = logging.getLogger(__name__)
ID_MISMATCH = ("unknown_ids", "duplicate_ids", "too_few_rows", "missing_ids")


@dataclass(frozen=True)
class ScoreReport:
    """A finished scoring: scores per split and metric, the interval of the primary one, and the metering."""

    scores: dict[str, dict[str, float]]
    primary: str
    primary_ci: ConfidenceInterval | None
    ci_split: str
    device_kind: str  # "cpu" or "gpu"
    device_id: str
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    sandbox_backend: str | None
    reproducibility: dict[str, Any]
    log_tail: str = ""
    display: dict[str, dict[str, str]] = field(default_factory=dict)  # the scores rounded for leaderboards


def submission_score(
    *,
    submission: Path,
    kind: str,
    config: ScoringConfig,
    hidden: HiddenData,
    context: RunContext,
    program: Path | None = None,
) -> ScoreReport:
    """Score `submission` ("predictions", "onnx" or "package") against `hidden`; raises ScoringFailed.

    Deterministic: the same submission, hidden data, configuration, program and runtime give the same
    scores, interval and record. `program` is the host's scoring program for `config.custom_metrics`.
    """
    started = time.monotonic()
    host_cpu = time.thread_time()
    context.work_dir.mkdir(parents=True, exist_ok=True)
    labels = labels_read(path=hidden.labels, config=config)
    if config.leaderboard_split is not None and config.leaderboard_split not in labels.split_names:
        raise ScoringFailed(
            "labels_invalid", f"The labels have no split {config.leaderboard_split!r}", platform_failure=True
        )
    if config.custom_metrics and program is None:
        raise ScoringFailed("program_missing", "This phase's scoring program is missing.", platform_failure=True)
    if context.on_progress is not None:
        context.on_progress(0)
    outcome = submission_run(kind=kind, submission=submission, inputs=hidden.inputs, config=config, context=context)
    try:
        inputs = metric_inputs(config=config, labels=labels, predictions=outcome.predictions)
    except ScoringFailed as failure:
        if kind != "predictions" and failure.code in ID_MISMATCH:
            # A model gives one row per hidden input (checked before), so ids that do not match the labels'
            # are the hidden data's fault, not the entrant's.
            raise ScoringFailed(
                "hidden_data_mismatch",
                "The phase's hidden inputs and labels do not hold the same ids.",
                platform_failure=True,
            ) from failure
        raise
    scores: dict[str, dict[str, float]] = {split: {} for split in labels.split_names}
    for split, data in inputs.items():
        for name in config.metrics:
            if name in config.custom_metrics:
                continue
            value = metric_compute(name=name, data=data, params=config.metric_params.get(name))
            if value != value:  # NaN: undefined on this data, e.g. ROC AUC of a split with a single class
                raise ScoringFailed(
                    "metric_undefined",
                    f"{name} is undefined on the {split} split of the hidden data.",
                    platform_failure=True,
                )
            scores[split][name] = value
    runs = [outcome.sandbox] if outcome.sandbox is not None else []
    if config.custom_metrics:
        assert program is not None
        custom, program_run = program_scores(
            program=program, labels=labels, predictions=outcome.predictions, config=config, context=context
        )
        runs.append(program_run)
        for split, values in custom.items():
            scores[split].update(values)
    ci_split = config.leaderboard_split or labels.split_names[0]
    primary_ci = None
    if config.primary not in config.custom_metrics:  # a program's metric cannot be resampled here
        primary_ci = bootstrap_ci(
            name=config.primary,
            data=inputs[ci_split],
            params=config.metric_params.get(config.primary),
            resamples=config.bootstrap_resamples,
            seed=config.bootstrap_seed,
            confidence=config.confidence,
        )
    backend = runs[0].backend if runs else None
    record = reproducibility_record(
        submission=submission,
        labels=hidden.labels,
        inputs=hidden.inputs if kind != "predictions" else None,
        config=config,
        program=program,
        sandbox_backend=backend,
        threads=context.threads,
    )
    display = {
        split: {name: f"{value:.{config.metric_meta(name)[1]}f}" for name, value in values.items()}
        for split, values in scores.items()
    }
    report = ScoreReport(
        scores=scores,
        primary=config.primary,
        primary_ci=primary_ci,
        ci_split=ci_split,
        device_kind="gpu" if context.gpu is not None else "cpu",
        device_id=context.gpu.uuid if context.gpu is not None else "cpu",
        wall_seconds=time.monotonic() - started,
        cpu_seconds=sum(run.cpu_seconds for run in runs) + (time.thread_time() - host_cpu),
        peak_memory_bytes=max((run.peak_memory_bytes for run in runs), default=0),
        sandbox_backend=backend,
        reproducibility=record,
        log_tail=runs[0].log_tail() if runs else "",
        display=display,
    )
    if context.on_progress is not None:
        context.on_progress(100)
    log.info(
        "submission scored",
        extra={"sandbox_backend": backend, "primary": config.primary, "scores": scores, "kind": kind},
    )
    return report

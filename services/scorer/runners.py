"""Turn a submission into predictions aligned to the hidden ids: a predictions file is parsed on the host, an
ONNX model or a code package runs in the sandbox, a host's scoring program runs there too.

Each runner raises ScoringFailed with a reason the entrant can act on; a run that hit a limit names it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from services.scorer.archive import ArchiveLimits, archive_extract
from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringFailed
from services.scorer.formats import (
    Labels,
    Predictions,
    file_read_limited,
    model_predictions,
    predictions_align,
    predictions_read,
)
from services.scorer.gpu import GpuDevice, gpu_env
from services.scorer.sandbox import Bind, KillReason, Limits, SandboxResult, sandbox_run
from services.scorer.sandbox.output import OutputCallback

ENTRY_DIR = Path(__file__).with_name("entry")
INSIDE_ENTRY = "/opt/wanzhi"
INSIDE_SUBMISSION = "/submission"
INSIDE_DATA = "/data"
INSIDE_PROGRAM = "/program"
PROGRESS = "##wanzhi-progress## "
MANIFEST = "manifest.json"
SCORES_MAX_BYTES = 16384  # a scoring program prints a small JSON object, nothing more

KIND_PREDICTIONS = "predictions"
KIND_ONNX = "onnx"
KIND_PACKAGE = "package"
KINDS = (KIND_PREDICTIONS, KIND_ONNX, KIND_PACKAGE)

LIMIT_MESSAGES = {
    KillReason.CPU: "The run used up its CPU time limit of {cpu} s.",
    KillReason.MEMORY: "The run ran out of memory (limit {memory}).",
    KillReason.PROCESSES: "The run started more processes or threads than its limit of {processes}.",
    KillReason.WALL_CLOCK: "The run did not finish within its time limit of {wall:g} s.",
    KillReason.OUTPUT_LIMIT: "The run printed more than {output} of output and was stopped.",
}


@dataclass(frozen=True)
class RunContext:
    """Where and how runs of one scoring job happen."""

    work_dir: Path
    limits: Limits = field(default_factory=Limits)
    gpu: GpuDevice | None = None
    threads: int = 1  # onnxruntime/BLAS threads; recorded, since results can depend on it
    on_log: OutputCallback | None = None
    on_progress: Callable[[int], None] | None = None
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass(frozen=True)
class RunOutcome:
    predictions: Predictions
    sandbox: SandboxResult | None  # None when nothing ran (a predictions file)


def _stage_file(source: Path, target: Path) -> Path:
    """A world-readable copy for the sandbox's uid (uploads are usually private to the worker)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o644)  # read by the sandbox's unprivileged uid
    return target


def _readable_inputs(inputs: Path, context: RunContext) -> Path:
    if inputs.stat().st_mode & 0o004:
        return inputs
    return _stage_file(inputs, context.work_dir / "data" / "inputs.npz")


def hidden_ids(*, inputs: Path) -> pa.Array:
    """The ids of the hidden inputs, as strings (host side)."""
    with np.load(inputs, allow_pickle=False) as data:
        return pa.array(np.asarray(data["id"]).astype(str), pa.string())


def _output_filter(context: RunContext) -> OutputCallback:
    def on_output(stream: str, line: str) -> None:
        if stream == "stdout" and line.startswith(PROGRESS):
            if context.on_progress is not None:
                try:
                    context.on_progress(max(0, min(100, int(line[len(PROGRESS) :].strip()))))
                except ValueError:
                    pass
            return
        if context.on_log is not None:
            context.on_log(stream, line)

    return on_output


def _human_bytes(value: int | None) -> str:
    if value is None:
        return "none"
    return f"{value / 1024 / 1024:,.0f} MiB"


def limit_failure(*, result: SandboxResult, limits: Limits) -> ScoringFailed:
    """The failure of a run that hit a limit, naming the limit and its value."""
    assert result.killed_reason is not None
    message = LIMIT_MESSAGES[result.killed_reason].format(
        cpu=limits.cpu_seconds,
        memory=_human_bytes(limits.memory_bytes),
        processes=limits.processes,
        wall=limits.wall_seconds,
        output=_human_bytes(limits.output_kill_bytes),
    )
    return ScoringFailed(f"limit_{result.killed_reason.value}", message, log_tail=result.log_tail())


def _sandboxed(argv: list[str], binds: list[Bind], context: RunContext, scratch: Path) -> SandboxResult:
    limits = context.limits
    env = {"OMP_NUM_THREADS": str(context.threads), "OPENBLAS_NUM_THREADS": str(context.threads)}
    devices: list[str] = []
    if context.gpu is not None:
        env.update(gpu_env(device=context.gpu))
        devices = context.gpu.device_nodes
        # CUDA reserves terabytes of address space: an RLIMIT_AS would fail every GPU run.
        limits = dataclasses.replace(limits, memory_bytes=None)
    return sandbox_run(
        argv=argv,
        scratch=scratch,
        binds=binds,
        limits=limits,
        env=env,
        on_output=_output_filter(context),
        devices=devices,
    )


def _model_run(
    argv_tail: list[str], binds: list[Bind], config: ScoringConfig, inputs: Path, context: RunContext
) -> RunOutcome:
    scratch = context.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    staged_inputs = _readable_inputs(inputs, context)
    binds = [*binds, Bind(ENTRY_DIR, INSIDE_ENTRY), Bind(staged_inputs, f"{INSIDE_DATA}/inputs.npz")]
    argv = [
        sys.executable,
        "-I",
        "-B",
        f"{INSIDE_ENTRY}/predict.py",
        *argv_tail,
        "--inputs",
        f"{INSIDE_DATA}/inputs.npz",
        "--output",
        "/scratch/predictions.npy",
        "--batch-size",
        str(config.batch_size),
        "--threads",
        str(context.threads),
    ]
    result = _sandboxed(argv, binds, context, scratch)
    if result.killed_reason is not None:
        raise limit_failure(result=result, limits=context.limits)
    if result.exit_code != 0:
        raise _run_failure(result, scratch)
    data = file_read_limited(
        path=scratch / "predictions.npy", max_bytes=config.max_prediction_bytes, what="model output"
    )
    try:
        output = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ScoringFailed("output_invalid", f"The model output is not a readable array: {error}") from None
    if not isinstance(output, np.ndarray):
        raise ScoringFailed("output_invalid", "The model output is not a single array.")
    return RunOutcome(
        predictions=model_predictions(ids=hidden_ids(inputs=inputs), output=output, config=config), sandbox=result
    )


def _run_failure(result: SandboxResult, scratch: Path) -> ScoringFailed:
    """The entry script's own refusal (error.json) if it left one, else the exit code and the log."""
    try:
        refusal = json.loads(file_read_limited(path=scratch / "error.json", max_bytes=8192, what="error report"))
        code, message = str(refusal["code"])[:40], str(refusal["message"])[:1000]
    except (ScoringFailed, ValueError, KeyError, TypeError):
        code, message = "run_failed", f"The run exited with code {result.exit_code}; see the log."
    # The program itself can write error.json, so it only ever explains a failure that is the entrant's.
    return ScoringFailed(code if code.replace("_", "").isalnum() else "run_failed", message, log_tail=result.log_tail())


def _check_cuda(context: RunContext) -> None:
    if context.gpu is None:
        return
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise ScoringFailed(
            "gpu_runtime_missing",
            "This GPU worker's onnxruntime has no CUDA support; the job goes back to the queue.",
            platform_failure=True,
        )


def predictions_file_run(*, submission: Path, config: ScoringConfig) -> RunOutcome:
    """A CSV or JSON predictions file: parsed strictly on the host, no sandbox needed."""
    return RunOutcome(predictions=predictions_read(path=submission, config=config), sandbox=None)


def onnx_run(*, submission: Path, inputs: Path, config: ScoringConfig, context: RunContext) -> RunOutcome:
    """Batched onnxruntime inference inside the sandbox (CUDA when a GPU is assigned, else CPU)."""
    _check_cuda(context)
    model = _stage_file(submission, context.work_dir / "submission" / "model.onnx")
    argv_tail = ["onnx", "--model", f"{INSIDE_SUBMISSION}/model.onnx", "--device", "cuda" if context.gpu else "cpu"]
    if config.onnx_output:
        argv_tail += ["--output-name", config.onnx_output]
    if config.output == "proba":
        argv_tail.append("--proba")
    return _model_run(argv_tail, [Bind(model.parent, INSIDE_SUBMISSION)], config, inputs, context)


def package_root(*, extracted: Path) -> Path:
    """Where the manifest is: the archive's top level, or its only directory (archives made of a folder)."""
    if (extracted / MANIFEST).is_file():
        return extracted
    entries = list(extracted.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST).is_file():
        return entries[0]
    raise ScoringFailed("manifest_missing", f'The package has no {MANIFEST} naming "entry_point": "module:function".')


def package_run(*, submission: Path, inputs: Path, config: ScoringConfig, context: RunContext) -> RunOutcome:
    """A zip or tar with a manifest naming `predict(inputs) -> outputs`, run with the platform's interpreter."""
    extracted = context.work_dir / "submission"
    archive_extract(archive=submission, dest=extracted, limits=context.archive_limits)
    root = package_root(extracted=extracted)
    inside_root = INSIDE_SUBMISSION + ("" if root == extracted else f"/{root.name}")
    return _model_run(["package", "--root", inside_root], [Bind(extracted, INSIDE_SUBMISSION)], config, inputs, context)


def submission_run(
    *, kind: str, submission: Path, inputs: Path | None, config: ScoringConfig, context: RunContext
) -> RunOutcome:
    """Dispatch on the submission kind ("predictions", "onnx" or "package")."""
    if kind == KIND_PREDICTIONS:
        return predictions_file_run(submission=submission, config=config)
    if inputs is None:
        raise ScoringFailed("inputs_missing", "This phase has no hidden inputs for models.", platform_failure=True)
    if kind == KIND_ONNX:
        return onnx_run(submission=submission, inputs=inputs, config=config, context=context)
    if kind == KIND_PACKAGE:
        return package_run(submission=submission, inputs=inputs, config=config, context=context)
    raise ScoringFailed("unknown_kind", f"Unknown submission kind {kind!r}.", platform_failure=True)


# --------------------------------------------------------------------------- the host's scoring program


def program_scores(
    *,
    program: Path,
    labels: Labels,
    predictions: Predictions,
    config: ScoringConfig,
    context: RunContext,
) -> tuple[dict[str, dict[str, float]], SandboxResult]:
    """Run a host's scoring program (one Python file) in the sandbox on scratch copies of the aligned
    predictions and the labels: `score.py predictions.csv labels.csv` must print one JSON object,
    {split: {metric: number}} (or {metric: number} when there is one split), for exactly the custom metrics.

    Its failures are the platform's (the entrant's quota slot is given back), never the entrant's.
    """
    wanted = [name for name in config.metrics if name in config.custom_metrics]
    scratch = context.work_dir / "program-scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    positions = predictions_align(predictions=predictions, labels=labels)
    columns: dict[str, Any] = {"id": labels.ids}
    if predictions.proba is not None:
        for index, name in enumerate(config.classes):
            columns[name] = pa.array(predictions.proba[positions, index])
    else:
        assert predictions.values is not None
        columns["prediction"] = predictions.values.take(pa.array(positions))
    pacsv.write_csv(pa.table(columns), scratch / "predictions.csv")
    pacsv.write_csv(
        pa.table({"id": labels.ids, "label": labels.values, "split": labels.splits}), scratch / "labels.csv"
    )
    staged = _stage_file(program, context.work_dir / "program" / "score.py")
    argv = [sys.executable, "-I", "-B", f"{INSIDE_PROGRAM}/score.py", "/scratch/predictions.csv", "/scratch/labels.csv"]
    result = _sandboxed(argv, [Bind(staged.parent, INSIDE_PROGRAM)], context, scratch)

    def failed(reason: str) -> ScoringFailed:
        return ScoringFailed(
            "scoring_program_failed",
            f"The competition's scoring program failed: {reason}",
            platform_failure=True,
            log_tail=result.log_tail(),
        )

    if result.killed_reason is not None:
        raise failed(limit_failure(result=result, limits=context.limits).reason)
    if result.exit_code != 0:
        raise failed(f"it exited with code {result.exit_code}.")
    if result.stdout_bytes > SCORES_MAX_BYTES:
        raise failed(f"it printed {result.stdout_bytes:,} bytes; a scores object is at most {SCORES_MAX_BYTES:,}.")
    try:
        scores = program_output_parse(result.stdout_tail, wanted=wanted, splits=labels.split_names)
    except ValueError as error:
        raise failed(str(error)) from None
    return scores, result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid score")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("its JSON repeats a key")
    return dict(pairs)


def program_output_parse(text: str, *, wanted: list[str], splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Validate a scoring program's JSON strictly: exactly the splits and metrics expected, finite numbers."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except ValueError as error:
        raise ValueError(f"its output is not one JSON object ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("its output is not a JSON object")
    if len(splits) == 1 and set(data) == set(wanted):
        data = {splits[0]: data}
    if set(data) != set(splits):
        raise ValueError(f"it scored splits {sorted(data)}; expected {sorted(splits)}")
    scores: dict[str, dict[str, float]] = {}
    for split, values in data.items():
        if not isinstance(values, Mapping) or set(values) != set(wanted):
            found = sorted(values) if isinstance(values, Mapping) else type(values).__name__
            raise ValueError(f"split {split!r} has metrics {found}; expected {sorted(wanted)}")
        scores[split] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{split}.{name} is {value!r}, not a finite number")
            scores[split][name] = float(value)
    return scores

"""The reproducibility record every score carries: what was scored, against what, how, with which software."""

from __future__ import annotations

import functools
import hashlib
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from services.scorer.config import ScoringConfig

RECORD_VERSION = 1
RUNTIME_PACKAGES = ("numpy", "onnxruntime", "pyarrow")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes; memoised by (path, size, mtime) since hidden data is hashed for every job."""
    info = path.stat()
    return _file_sha256(str(path.resolve()), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def runtime_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in RUNTIME_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


def reproducibility_record(
    *,
    submission: Path,
    labels: Path,
    inputs: Path | None,
    config: ScoringConfig,
    program: Path | None,
    sandbox_backend: str | None,
    threads: int,
) -> dict[str, Any]:
    """Everything a rescore must match to give the identical score. Equal inputs give an equal record."""
    return {
        "version": RECORD_VERSION,
        "submission_sha256": file_sha256(submission),
        "hidden_labels_sha256": file_sha256(labels),
        "hidden_inputs_sha256": file_sha256(inputs) if inputs is not None else None,
        "config_sha256": config.sha256(),
        "program_sha256": file_sha256(program) if program is not None else None,
        "runtime": runtime_versions(),
        "sandbox_backend": sandbox_backend or "none",
        "threads": threads,
        "bootstrap": {
            "seed": config.bootstrap_seed,
            "resamples": config.bootstrap_resamples,
            "confidence": config.confidence,
        },
    }

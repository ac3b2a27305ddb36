"""Fixtures of the scorer's tests: a small digits task with hidden data on disk, code packages, GPU detection."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from services.scorer.config import ScoringConfig
from services.scorer.gpu import GpuDevice, gpus_detect
from services.scorer.runners import RunContext
from services.scorer.sandbox import Limits
from services.scorer.sandbox.run import HOST_UID_BASE
from services.scorer.scoring import HiddenData

PYTHON = sys.executable
# Small enough for a 2-core machine, big enough for the interpreter with numpy and onnxruntime.
MODEL_LIMITS = Limits(cpu_seconds=20, wall_seconds=30, memory_bytes=1536 * 1024 * 1024, processes=32)


@dataclass(frozen=True)
class Digits:
    """scikit-learn's digits, split into a training half (for models) and hidden public/private test rows."""

    x_train: np.ndarray
    y_train: np.ndarray
    ids: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    splits: np.ndarray
    model: bytes  # an ONNX logistic regression, label and probability outputs


@pytest.fixture(scope="session")
def digits() -> Digits:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the model only needs to be decent
        model = LogisticRegression(max_iter=200).fit(x[:1200], y[:1200])
    onnx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    n = len(y) - 1200
    return Digits(
        x_train=x[:1200],
        y_train=y[:1200],
        ids=np.array([f"d{i:04d}" for i in range(n)]),
        x_test=x[1200:],
        y_test=y[1200:],
        splits=np.where(np.arange(n) % 2 == 0, "public", "private"),
        model=onnx.SerializeToString(),
    )


@pytest.fixture
def hidden(digits: Digits, tmp_path: Path) -> HiddenData:
    """Hidden inputs and labels side by side in one private host directory, as a phase stores them."""
    data = tmp_path / "hidden"
    data.mkdir(mode=0o700)
    np.savez(data / "inputs.npz", id=digits.ids, x=digits.x_test)
    rows = "".join(f"{i},{y},{s}\n" for i, y, s in zip(digits.ids, digits.y_test, digits.splits, strict=True))
    (data / "labels.csv").write_text("id,label,split\n" + rows, encoding="utf-8")
    for name in ("inputs.npz", "labels.csv"):
        (data / name).chmod(0o600)
    return HiddenData(labels=data / "labels.csv", inputs=data / "inputs.npz")


@pytest.fixture
def label_config() -> ScoringConfig:
    return ScoringConfig(output="label", metrics=("accuracy", "f1_macro"), label_type="int")


@pytest.fixture
def context(tmp_path: Path) -> RunContext:
    return RunContext(work_dir=tmp_path / "job", limits=MODEL_LIMITS)


@pytest.fixture
def make_zip(tmp_path: Path) -> Callable[..., Path]:
    """A zip from {name: text or bytes}; `links` adds symlink entries {name: target}."""

    def make(files: dict[str, str | bytes], *, links: dict[str, str] | None = None, name: str = "pkg.zip") -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, content in files.items():
                archive.writestr(entry, content)
            for entry, target in (links or {}).items():
                info = zipfile.ZipInfo(entry)
                info.external_attr = (0o120777 << 16) | 0x20  # S_IFLNK | rwx, as zip -y writes a link
                archive.writestr(info, target)
        return path

    return make


@pytest.fixture
def make_tar(tmp_path: Path) -> Callable[..., Path]:
    """A tar.gz from TarInfo-like specs: (name, type, content_or_linkname)."""

    def make(entries: list[tuple[str, bytes, bytes | str]], name: str = "pkg.tar.gz") -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w:gz") as archive:
            for entry, kind, content in entries:
                info = tarfile.TarInfo(entry)
                info.type = kind
                if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = str(content)
                    archive.addfile(info)
                elif kind == tarfile.REGTYPE:
                    data = content if isinstance(content, bytes) else content.encode()
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
                else:
                    archive.addfile(info)
        return path

    return make


def package_files(predict_body: str, *, preamble: str = "") -> dict[str, str]:
    """A code package whose model.py defines predict(x) with the given body (indented by the caller)."""
    return {
        "manifest.json": '{"entry_point": "model:predict"}',
        "model.py": f"import numpy as np\n{preamble}\n\ndef predict(x):\n{predict_body}\n",
    }


def sandbox_processes() -> list[int]:
    """Host pids of live processes whose uid is in the sandbox's range: none may outlive a run."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/status", "rb") as status:
                fields = dict(line.split(b":", 1) for line in status if b":" in line)
        except OSError:
            continue
        uid = int(fields[b"Uid"].split()[0])
        if uid >= HOST_UID_BASE and not fields[b"State"].strip().startswith(b"Z"):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def gpus() -> list[GpuDevice]:
    return gpus_detect()


@pytest.fixture
def gpu(gpus: list[GpuDevice]) -> Iterator[GpuDevice]:
    """The host's first GPU; tests that need one are skipped, with this reason, where there is none."""
    if not gpus:
        pytest.skip("no NVIDIA GPU on this host (NVML and nvidia-smi found none)")
    yield gpus[0]

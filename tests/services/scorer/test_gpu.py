"""GPU detection, pinning, and (where a GPU exists) a sandboxed run that sees exactly its own GPU."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from services.scorer.errors import ScoringFailed
from services.scorer.gpu import GpuDevice, NoGpuFree, gpu_env, gpu_slot, gpus_detect, nvidia_smi_parse
from services.scorer.runners import RunContext
from services.scorer.sandbox import Limits, sandbox_run
from services.scorer.scoring import HiddenData, submission_score

SMI = """0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA H100 80GB HBM3, 81559
1, GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, NVIDIA H100 80GB HBM3, 81559
"""


def device(index: int = 0) -> GpuDevice:
    return nvidia_smi_parse(SMI)[index]


def test_nvidia_smi_output_is_parsed() -> None:
    first, second = nvidia_smi_parse(SMI)
    assert first.index == 0 and first.name == "NVIDIA H100 80GB HBM3" and first.source == "nvidia-smi"
    assert first.memory_total_bytes == 81559 * 1024 * 1024 and second.uuid.startswith("GPU-aaaa")
    assert nvidia_smi_parse("") == []


def test_detection_never_raises() -> None:
    assert isinstance(gpus_detect(), list)


def test_a_job_is_pinned_to_its_gpu_by_uuid() -> None:
    assert gpu_env(device=device(1)) == {
        "CUDA_VISIBLE_DEVICES": "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "NVIDIA_VISIBLE_DEVICES": "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    }


def test_one_job_per_gpu(tmp_path: Path) -> None:
    devices = nvidia_smi_parse(SMI)
    with gpu_slot(devices=devices, lock_dir=tmp_path) as first, gpu_slot(devices=devices, lock_dir=tmp_path) as second:
        assert {first.uuid, second.uuid} == {d.uuid for d in devices}
        with pytest.raises(NoGpuFree), gpu_slot(devices=devices, lock_dir=tmp_path):
            pass
    with gpu_slot(devices=devices, lock_dir=tmp_path) as again:  # released when the job ended
        assert again.uuid == devices[0].uuid


@pytest.mark.gpu
def test_gpus_are_detected_with_their_memory(gpu: GpuDevice) -> None:
    assert gpu.uuid.startswith(("GPU-", "MIG-")) and gpu.memory_total_bytes > 1 << 30
    assert f"/dev/nvidia{gpu.minor}" in gpu.device_nodes and "/dev/nvidiactl" in gpu.device_nodes


@pytest.mark.gpu
def test_a_sandboxed_run_sees_only_its_gpu(gpu: GpuDevice, tmp_path: Path) -> None:
    code = (
        "import ctypes, os; lib = ctypes.CDLL('libnvidia-ml.so.1'); assert lib.nvmlInit_v2() == 0;"
        "n = ctypes.c_uint(); lib.nvmlDeviceGetCount_v2(ctypes.byref(n));"
        "print(n.value, os.environ['CUDA_VISIBLE_DEVICES'])"
    )
    result = sandbox_run(
        argv=[sys.executable, "-I", "-c", code],
        scratch=tmp_path,
        env=gpu_env(device=gpu),
        devices=gpu.device_nodes,
        limits=Limits(memory_bytes=None, wall_seconds=60),
    )
    assert result.ok, result.log_tail()
    count, visible = result.stdout_tail.split()
    assert count == "1" and visible == gpu.uuid  # NVML inside sees the one GPU whose node was bound


@pytest.mark.gpu
def test_an_onnx_model_on_a_gpu_runs_with_cuda_or_hands_the_job_back(
    gpu: GpuDevice, digits, hidden: HiddenData, tmp_path
):
    import onnxruntime

    from services.scorer.config import ScoringConfig

    model = tmp_path / "model.onnx"
    model.write_bytes(digits.model)
    config = ScoringConfig(output="label", metrics=("accuracy",), label_type="int")
    context = RunContext(work_dir=tmp_path / "gpu", gpu=gpu, limits=Limits(wall_seconds=120, cpu_seconds=120))
    cpu = submission_score(
        submission=model, kind="onnx", config=config, hidden=hidden, context=RunContext(work_dir=tmp_path / "cpu")
    )
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        report = submission_score(submission=model, kind="onnx", config=config, hidden=hidden, context=context)
        assert report.device_kind == "gpu" and report.device_id == gpu.uuid
        assert report.scores == cpu.scores
    else:  # a CPU-only onnxruntime on a GPU worker is the platform's fault, never the entrant's
        with pytest.raises(ScoringFailed) as failure:
            submission_score(submission=model, kind="onnx", config=config, hidden=hidden, context=context)
        assert failure.value.platform_failure and failure.value.code == "gpu_runtime_missing"
    assert shutil.which("nvidia-smi") is None or gpu.source in ("nvml", "nvidia-smi")

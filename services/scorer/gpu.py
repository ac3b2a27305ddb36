"""GPU detection (NVML through nvidia-ml-py, else nvidia-smi, else none) and pinning one job per GPU."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Device nodes every CUDA process needs besides its GPU's own /dev/nvidia<minor>.
SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")
SMI_FIELDS = "index,uuid,name,memory.total"


class NoGpuFree(RuntimeError):
    """Every GPU of this host is taken by another job (the job waits in its queue)."""


@dataclass(frozen=True)
class GpuDevice:
    index: int
    uuid: str
    name: str
    memory_total_bytes: int
    minor: int  # the N of /dev/nvidiaN
    source: str  # "nvml" or "nvidia-smi"

    @property
    def device_nodes(self) -> list[str]:
        """The nodes a sandbox must see for this GPU (and only this one)."""
        return [node for node in (*SHARED_NODES, f"/dev/nvidia{self.minor}") if os.path.exists(node)]


def gpus_detect() -> list[GpuDevice]:
    """The host's NVIDIA GPUs; [] where there are none or no driver. Never raises."""
    try:
        return _nvml()
    except Exception as error:  # no library, no driver, or an NVML error: try the CLI
        log.debug("NVML unavailable: %s", error)
    try:
        return _nvidia_smi()
    except Exception as error:
        log.debug("nvidia-smi unavailable: %s", error)
    return []


def _nvml() -> list[GpuDevice]:
    import pynvml

    pynvml.nvmlInit()
    try:
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            devices.append(
                GpuDevice(
                    index=index,
                    uuid=uuid.decode() if isinstance(uuid, bytes) else uuid,
                    name=name.decode() if isinstance(name, bytes) else name,
                    memory_total_bytes=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                    minor=int(pynvml.nvmlDeviceGetMinorNumber(handle)),
                    source="nvml",
                )
            )
        return devices
    finally:
        pynvml.nvmlShutdown()


def _nvidia_smi() -> list[GpuDevice]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    output = subprocess.run(
        [smi, f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    return nvidia_smi_parse(output)


def nvidia_smi_parse(output: str) -> list[GpuDevice]:
    """Parse `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits` (MiB)."""
    devices = []
    for line in output.splitlines():
        if not line.strip():
            continue
        index, uuid, name, memory = (part.strip() for part in line.split(","))
        devices.append(
            GpuDevice(
                index=int(index),
                uuid=uuid,
                name=name,
                memory_total_bytes=int(float(memory)) * 1024 * 1024,
                minor=int(index),  # nvidia-smi does not print minors; they follow the index on ordinary hosts
                source="nvidia-smi",
            )
        )
    return devices


def gpu_env(*, device: GpuDevice) -> dict[str, str]:
    """Environment that pins a CUDA process to `device` alone (by UUID: indexes shift with CUDA_DEVICE_ORDER)."""
    return {"CUDA_VISIBLE_DEVICES": device.uuid, "NVIDIA_VISIBLE_DEVICES": device.uuid}


@contextlib.contextmanager
def gpu_slot(*, devices: Sequence[GpuDevice], lock_dir: Path) -> Iterator[GpuDevice]:
    """Hold one free GPU for the duration of a job: one job per GPU across all worker processes of a host.

    A GPU is held by an exclusive flock on `lock_dir/gpu-<uuid>.lock`; the kernel drops it if the worker
    dies. Raises NoGpuFree when every GPU is held.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    for device in devices:
        fd = os.open(lock_dir / f"gpu-{device.uuid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield device
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    raise NoGpuFree(f"all {len(devices)} GPU(s) are busy")

"""The production backend renders a hardened Job and a deny-all NetworkPolicy."""

from __future__ import annotations

import uuid

import pytest
import yaml

from services.scorer.kubernetes import KubernetesJobBackend, KubernetesSpecError, ReadOnlyVolume

JOB_ID = str(uuid.UUID(int=42))


def render(gpu: bool = False, **settings: object) -> dict:
    backend = KubernetesJobBackend(**settings)  # type: ignore[arg-type]
    return backend.job(
        job_id=JOB_ID,
        command=["python", "-I", "/opt/wanzhi/predict.py", "onnx"],
        deadline_seconds=600,
        gpu=gpu,
        env={"OMP_NUM_THREADS": "2"},
        volumes=[
            ReadOnlyVolume("inputs", "/data", {"persistentVolumeClaim": {"claimName": "phase-7", "readOnly": True}})
        ],
    )


def test_the_job_is_hardened() -> None:
    job = render()
    spec = job["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 600
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["restartPolicy"] == "Never" and pod["runtimeClassName"] == "gvisor"
    assert not (pod["hostNetwork"] or pod["hostPID"] or pod["hostIPC"])
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"
    }
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    scratch = next(v for v in pod["volumes"] if v["name"] == "scratch")
    assert scratch == {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/data"]["readOnly"] is True and "readOnly" not in mounts["/scratch"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert container["env"] == [{"name": "OMP_NUM_THREADS", "value": "2"}]


def test_a_gpu_job_requests_one_gpu_on_a_gpu_node() -> None:
    pod = render(gpu=True, runtime_class="kata")["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1" == resources["requests"]["nvidia.com/gpu"]
    assert pod["runtimeClassName"] == "kata" and pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_the_runtime_class_is_optional() -> None:
    assert "runtimeClassName" not in render(runtime_class=None)["spec"]["template"]["spec"]


def test_the_network_policy_denies_everything_for_the_jobs_pods() -> None:
    backend = KubernetesJobBackend()
    policy = backend.network_policy(job_id=JOB_ID)
    job = render()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [] and policy["spec"]["egress"] == []
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= job["spec"]["template"]["metadata"]["labels"].items()


def test_manifests_are_one_yaml_stream_policy_first() -> None:
    text = KubernetesJobBackend().manifests(job_id=JOB_ID, command=["true"], deadline_seconds=60)
    kinds = [doc["kind"] for doc in yaml.safe_load_all(text)]
    assert kinds == ["NetworkPolicy", "Job"]


def test_bad_names_and_deadlines_are_refused() -> None:
    with pytest.raises(KubernetesSpecError):
        KubernetesJobBackend().job(job_id="Not_A_Name!", command=["true"], deadline_seconds=60)
    with pytest.raises(KubernetesSpecError):
        KubernetesJobBackend().job(job_id=JOB_ID, command=["true"], deadline_seconds=0)

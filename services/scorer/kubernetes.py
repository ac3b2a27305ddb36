"""The production backend: a scoring run as a Kubernetes Job in a hardened pod, plus a deny-all NetworkPolicy.

It renders manifests (dicts, and YAML for `kubectl apply -f -`); the cluster provides the isolation the local
backends build by hand: a separate kernel under gVisor or Kata (runtimeClassName), no network, no service
account token, non-root with no capabilities, a read-only root, an emptyDir scratch with a size limit, and
activeDeadlineSeconds as the wall clock. See infra/kubernetes/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from services.scorer.sandbox.types import INSIDE_SCRATCH, INSIDE_UID

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$")
ROLE_LABEL = "wanzhi.io/role"
JOB_LABEL = "wanzhi.io/scoring-job"
ROLE = "scoring-sandbox"


class KubernetesSpecError(ValueError):
    """The job cannot be rendered as asked (a bad name, a non-positive limit)."""


@dataclass(frozen=True)
class ReadOnlyVolume:
    """Data shown read-only to the run (the submission, the hidden inputs): a volume source and where it goes."""

    name: str
    mount_path: str
    source: Mapping[str, Any]  # e.g. {"persistentVolumeClaim": {"claimName": "phase-12-inputs", "readOnly": True}}


@dataclass(frozen=True)
class KubernetesJobBackend:
    """Cluster-wide settings of scoring Jobs."""

    namespace: str = "scoring"
    image: str = "registry.example/wanzhi/scorer-sandbox:latest"
    runtime_class: str | None = "gvisor"  # "kata" works too; None runs under the node's default runtime
    cpu: str = "2"
    memory: str = "4Gi"
    scratch_size: str = "1Gi"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_node_selector: Mapping[str, str] = field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    ttl_seconds_after_finished: int = 3600

    def job(
        self,
        *,
        job_id: str,
        command: Sequence[str],
        deadline_seconds: int,
        gpu: bool = False,
        env: Mapping[str, str] | None = None,
        volumes: Sequence[ReadOnlyVolume] = (),
    ) -> dict[str, Any]:
        """The Job for one run. `deadline_seconds` becomes activeDeadlineSeconds (the wall clock)."""
        name = _name(f"score-{job_id}")
        if deadline_seconds <= 0:
            raise KubernetesSpecError("deadline_seconds must be positive")
        labels = {ROLE_LABEL: ROLE, JOB_LABEL: name, "app.kubernetes.io/part-of": "wanzhi"}
        limits: dict[str, str] = {"cpu": self.cpu, "memory": self.memory, "ephemeral-storage": self.scratch_size}
        if gpu:
            limits["nvidia.com/gpu"] = "1"  # extended resources: the request must equal the limit
        container = {
            "name": "run",
            "image": self.image,
            "command": list(command),
            "workingDir": INSIDE_SCRATCH,
            "env": [{"name": k, "value": v} for k, v in sorted((env or {}).items())],
            "resources": {"requests": dict(limits), "limits": limits},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": INSIDE_UID,
                "runAsGroup": INSIDE_UID,
                "allowPrivilegeEscalation": False,
                "privileged": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [
                {"name": "scratch", "mountPath": INSIDE_SCRATCH},
                *({"name": v.name, "mountPath": v.mount_path, "readOnly": True} for v in volumes),
            ],
        }
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,  # no service addresses in the environment
            "hostNetwork": False,
            "hostPID": False,
            "hostIPC": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": INSIDE_UID,
                "runAsGroup": INSIDE_UID,
                "fsGroup": INSIDE_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [
                {"name": "scratch", "emptyDir": {"sizeLimit": self.scratch_size}},
                *({"name": v.name, **dict(v.source)} for v in volumes),
            ],
        }
        if self.runtime_class:
            pod_spec["runtimeClassName"] = self.runtime_class
        selector = {**self.node_selector, **(self.gpu_node_selector if gpu else {})}
        if selector:
            pod_spec["nodeSelector"] = dict(selector)
        if gpu:
            pod_spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
            "spec": {
                "backoffLimit": 0,  # a failed run is a result, not something to retry
                "activeDeadlineSeconds": deadline_seconds,
                "ttlSecondsAfterFinished": self.ttl_seconds_after_finished,
                "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            },
        }

    def network_policy(self, *, job_id: str) -> dict[str, Any]:
        """Deny all ingress and egress of the job's pods (no rule listed: nothing allowed, DNS included)."""
        name = _name(f"score-{job_id}")
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{name}-deny-all", "namespace": self.namespace, "labels": {ROLE_LABEL: ROLE}},
            "spec": {
                "podSelector": {"matchLabels": {JOB_LABEL: name}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [],
            },
        }

    def manifests(self, **job_args: Any) -> str:
        """The NetworkPolicy first (so the pod never runs unpoliced), then the Job, as one YAML stream."""
        policy = self.network_policy(job_id=job_args["job_id"])
        return yaml.safe_dump_all([policy, self.job(**job_args)], sort_keys=False)


def _name(text: str) -> str:
    name = text.lower()
    if not NAME.match(name):
        raise KubernetesSpecError(
            f"{text!r} does not make a valid Kubernetes name (≤ 52 lowercase letters, digits, '-')"
        )
    return name

"""A phase's scoring configuration: what submissions output, which metrics (the first is primary), and limits."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.scorer.errors import ScoringConfigError
from services.scorer.metrics import METRICS

MIB = 1024 * 1024
# Which metric inputs each kind of output provides (probabilities also give labels, by argmax).
PROVIDES = {"label": {"labels"}, "proba": {"labels", "scores"}, "value": {"values"}, "text": {"texts"}}


@dataclass(frozen=True)
class CustomMetric:
    """A metric a host's scoring program computes: its direction and display precision are declared here."""

    higher_is_better: bool = True
    precision: int = 4


@dataclass(frozen=True)
class ScoringConfig:
    """How a phase is scored.

    output: "label" (a class per row), "proba" (one probability column per class, in `classes` order),
    "value" (a number per row) or "text". Predictions files carry `id` plus `prediction`, or, for "proba",
    one column per class named as the class. Labels files carry `id,label[,split]`.
    metrics: names from the registry (services.scorer.metrics.METRICS) or keys of `custom_metrics`, which
    the host's scoring program computes; the first is the primary metric.
    """

    output: str
    metrics: tuple[str, ...]
    classes: tuple[str, ...] = ()
    label_type: str = "str"  # "int" or "str": how class labels are read and compared
    metric_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    custom_metrics: Mapping[str, CustomMetric] = field(default_factory=dict)
    leaderboard_split: str | None = None  # whose primary metric gets the interval; default the labels' first split
    onnx_output: str | None = None  # default: the first output, or the first 2-D output for "proba"
    batch_size: int = 1024
    max_prediction_bytes: int = 512 * MIB
    max_rows: int = 5_000_000
    bootstrap_resamples: int = 1000
    bootstrap_seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(
            self,
            "custom_metrics",
            {k: v if isinstance(v, CustomMetric) else CustomMetric(**v) for k, v in self.custom_metrics.items()},
        )
        self.check()

    @property
    def primary(self) -> str:
        return self.metrics[0]

    def check(self) -> None:
        """Raise ScoringConfigError naming the first problem."""
        if self.output not in PROVIDES:
            raise ScoringConfigError(f"output must be one of {', '.join(PROVIDES)}, not {self.output!r}")
        if not self.metrics:
            raise ScoringConfigError("name at least one metric; the first is the primary one")
        if len(set(self.metrics)) != len(self.metrics):
            raise ScoringConfigError("a metric is listed twice")
        for name in self.metrics:
            if name in self.custom_metrics:
                continue
            metric = METRICS.get(name)
            if metric is None:
                raise ScoringConfigError(f"unknown metric {name!r} (and not declared in custom_metrics)")
            if metric.needs not in PROVIDES[self.output]:
                raise ScoringConfigError(f"{name} needs {metric.needs}; output {self.output!r} does not give them")
        for name in self.custom_metrics:
            if not re.fullmatch(r"[a-z0-9_]{1,64}", name):
                raise ScoringConfigError(f"custom metric name {name!r} must be 1–64 of a-z, 0-9 and _")
        for name in self.metric_params:
            if name not in self.metrics:
                raise ScoringConfigError(f"metric_params names {name!r}, which is not among the metrics")
        if self.output in ("label", "proba") and self.label_type not in ("int", "str"):
            raise ScoringConfigError("label_type must be 'int' or 'str'")
        if self.output == "proba":
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
                raise ScoringConfigError("output 'proba' needs two or more distinct classes")
            if self.label_type == "int":
                try:
                    [int(c) for c in self.classes]
                except ValueError:
                    raise ScoringConfigError("label_type 'int' needs integer classes") from None
            if "id" in self.classes:
                raise ScoringConfigError("a class cannot be named 'id'")
        if not 1 <= self.batch_size <= 1 << 20:
            raise ScoringConfigError("batch_size must be between 1 and 1,048,576")
        if not 0 < self.confidence < 1 or self.bootstrap_resamples < 1:
            raise ScoringConfigError("confidence must lie in (0, 1) and bootstrap_resamples be positive")

    def metric_meta(self, name: str) -> tuple[bool, int]:
        """(higher_is_better, display precision) of a listed metric."""
        if name in self.custom_metrics:
            custom = self.custom_metrics[name]
            return custom.higher_is_better, custom.precision
        metric = METRICS[name]
        return metric.higher_is_better, metric.precision

    def prediction_columns(self) -> tuple[str, ...]:
        return ("id", *self.classes) if self.output == "proba" else ("id", "prediction")

    def to_dict(self) -> dict[str, Any]:
        """JSON-native (lists, not tuples): what `from_dict` reads back."""
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        data["classes"] = list(self.classes)
        data["metric_params"] = {k: dict(v) for k, v in self.metric_params.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringConfig:
        """Build from stored JSON; unknown keys are an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ScoringConfigError(f"unknown scoring setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, UTF-8: equal configurations give equal bytes (and hashes)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

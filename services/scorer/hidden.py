"""Where a phase's hidden test set lives in private storage: the scorer finds it by phase id alone, so no
event, URL or API field ever has to name it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.storage import private_storage
from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringFailed

HIDDEN_DIR = "hidden"
# One fixed name per role: replacing a phase's hidden data replaces the file, and the scorer never guesses.
NAMES = {"hidden_labels": "labels.csv", "hidden_inputs": "inputs.npz", "scoring_program": "score.py"}


@dataclass(frozen=True)
class HiddenData:
    """A phase's hidden test set. `inputs` (.npz with "id" and "x") is shown read-only to models and code;
    `labels` (CSV `id,label[,split]`) never leaves the host."""

    labels: Path
    inputs: Path | None = None


def hidden_data_name(*, phase_id: int, role: str) -> str:
    """The storage name of a phase's hidden labels ("hidden_labels"), inputs ("hidden_inputs") or the host's
    scoring program ("scoring_program", for custom metrics)."""
    return f"{HIDDEN_DIR}/{int(phase_id)}/{NAMES[role]}"


def hidden_data_for(*, phase_id: int) -> HiddenData:
    """The phase's hidden data on this host; ScoringFailed (a platform failure) when the labels are missing."""
    storage = private_storage()
    labels = Path(storage.path(hidden_data_name(phase_id=phase_id, role="hidden_labels")))
    if not labels.is_file():
        raise ScoringFailed(
            "labels_missing", "This phase has no hidden labels yet; the host has been told.", platform_failure=True
        )
    inputs = Path(storage.path(hidden_data_name(phase_id=phase_id, role="hidden_inputs")))
    return HiddenData(labels=labels, inputs=inputs if inputs.is_file() else None)


def scoring_program_for(*, phase_id: int) -> Path | None:
    """The host's scoring program of the phase (one Python file), if it has one."""
    path = Path(private_storage().path(hidden_data_name(phase_id=phase_id, role="scoring_program")))
    return path if path.is_file() else None


def predictions_check(*, path: Path, phase_id: int, config: ScoringConfig) -> None:
    """Everything scoring would check of a predictions file, done at upload: format, columns, ids against
    the hidden set (unknown, repeated, missing), values (NaN, classes). Raises ScoringFailed with the
    entrant's reason; the labels themselves never leave this function."""
    # Imported here: pyarrow costs every Django process ~36 MiB, and only uploads and scoring read files.
    from services.scorer.formats import labels_read, metric_inputs, predictions_read

    hidden = hidden_data_for(phase_id=phase_id)
    labels = labels_read(path=hidden.labels, config=config)
    metric_inputs(config=config, labels=labels, predictions=predictions_read(path=path, config=config))

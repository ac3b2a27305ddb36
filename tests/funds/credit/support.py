"""Helpers of the compute credit tests."""

from __future__ import annotations

import uuid

from funds.credit.models import LedgerEntry
from funds.credit.services import usage_charge


def gpu_job(
    organisation_id: int, *, gpu_seconds: float, cpu_seconds: float = 0, submission_id: int = 1
) -> LedgerEntry | None:
    """Charge one finished GPU scoring job, as the funds consumer does for scoring.job.finished.v1."""
    return usage_charge(
        job_id=str(uuid.uuid4()),
        submission_id=submission_id,
        organisation_id=organisation_id,
        device_kind="gpu",
        device_id="0",
        cpu_seconds=cpu_seconds,
        wall_seconds=gpu_seconds,
    )

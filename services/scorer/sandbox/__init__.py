"""Run an untrusted command in fresh namespaces with a read-only view, one scratch dir and hard limits.

    result = sandbox_run(argv=[...], scratch=job_dir / "scratch", binds=[Bind(inputs, "/data")], limits=Limits(...))

See docs/sandbox.md for the threat model and what each layer stops.
"""

from services.scorer.sandbox.backends import Backend, backend_detect
from services.scorer.sandbox.run import sandbox_run
from services.scorer.sandbox.types import (
    INSIDE_SCRATCH,
    Bind,
    KillReason,
    Limits,
    SandboxResult,
    SandboxUnavailable,
)

__all__ = [
    "INSIDE_SCRATCH",
    "Backend",
    "Bind",
    "KillReason",
    "Limits",
    "SandboxResult",
    "SandboxUnavailable",
    "backend_detect",
    "sandbox_run",
]

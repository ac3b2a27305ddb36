"""Why scoring stopped: a named exception whose reason an entrant (or the platform's operators) can act on."""

from __future__ import annotations

from typing import Any


class ScoringFailed(Exception):
    """Scoring cannot produce a score for this submission.

    `code` is stable and machine-readable (pages translate from it), `reason` is the English sentence the
    entrant reads, `params` fill a translated sentence. `platform_failure` is True when the entrant is not
    to blame (the worker, the hidden data or the configuration failed): their quota slot is given back.
    `log_tail` is the end of the sandbox's output, if a sandbox ran.
    """

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        platform_failure: bool = False,
        log_tail: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.platform_failure = platform_failure
        self.log_tail = log_tail
        self.params = params or {}

    def __repr__(self) -> str:
        return f"ScoringFailed({self.code!r}, {self.reason!r}, platform_failure={self.platform_failure})"


class ScoringConfigError(ValueError):
    """A competition's scoring configuration is invalid (caught when the host saves it, not at scoring time)."""

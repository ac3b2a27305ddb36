"""Named crash points, armed by WANZHI_FAILPOINTS, so tests can SIGKILL a process at an exact step."""

import os
import signal

_ARMED = frozenset(filter(None, os.environ.get("WANZHI_FAILPOINTS", "").split(",")))


def failpoint(name: str) -> None:
    """Die at once, without cleanup, if this point is armed; a no-op otherwise (the normal case)."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)

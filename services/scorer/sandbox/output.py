"""Capped capture of one output stream: the first bytes go line by line to the live log, the rest is counted."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

OutputCallback = Callable[[str, str], None]  # (stream name, line without its newline)

LONGEST_LINE = 8192  # a line longer than this is passed on in pieces, so a newline-free flood cannot pile up
TAIL_BYTES = 16384


class OutputCapture:
    """Feeds the stream's lines to `callback` until `cap` bytes were kept; drops and counts the rest.

    Keeps a rolling tail of the last TAIL_BYTES bytes seen (kept or dropped): the end of a stream is where
    a traceback is. A callback that raises is logged once and then ignored: a broken live log must not
    decide a run.
    """

    def __init__(self, *, name: str, cap: int, callback: OutputCallback | None) -> None:
        self.name = name
        self.cap = cap
        self.callback = callback
        self.total = 0
        self.kept = 0
        self._partial = bytearray()
        self._tail = bytearray()
        self._callback_failed = False

    @property
    def dropped(self) -> int:
        return self.total - self.kept

    @property
    def truncated(self) -> bool:
        return self.total > self.kept

    def feed(self, data: bytes) -> None:
        was_truncated = self.truncated
        self.total += len(data)
        self._tail += data
        if len(self._tail) > 2 * TAIL_BYTES:
            del self._tail[:-TAIL_BYTES]
        room = self.cap - self.kept
        if room > 0:
            kept = data[:room]
            self.kept += len(kept)
            self._split(kept)
        if self.truncated and not was_truncated:
            self._flush_partial()
            self._emit(f"[output truncated: {self.name} passed {self.cap} bytes; the rest is dropped]")

    def close(self) -> None:
        """End of stream: pass on a last line without its newline."""
        self._flush_partial()

    def tail(self) -> str:
        text = bytes(self._tail[-TAIL_BYTES:]).decode("utf-8", errors="replace")
        if self.truncated:
            text += f"\n[{self.dropped} bytes of {self.name} dropped]"
        return text

    def _split(self, data: bytes) -> None:
        self._partial += data
        while True:
            newline = self._partial.find(b"\n")
            if newline < 0:
                break
            line = bytes(self._partial[:newline])
            del self._partial[: newline + 1]
            self._emit(line.decode("utf-8", errors="replace"))
        while len(self._partial) >= LONGEST_LINE:
            piece = bytes(self._partial[:LONGEST_LINE])
            del self._partial[:LONGEST_LINE]
            self._emit(piece.decode("utf-8", errors="replace"))

    def _flush_partial(self) -> None:
        if self._partial:
            line = bytes(self._partial)
            self._partial.clear()
            self._emit(line.decode("utf-8", errors="replace"))

    def _emit(self, line: str) -> None:
        if self.callback is None or self._callback_failed:
            return
        try:
            self.callback(self.name, line.rstrip("\r"))
        except Exception:
            self._callback_failed = True
            log.exception("sandbox output callback failed; the rest of this run's output is not streamed")

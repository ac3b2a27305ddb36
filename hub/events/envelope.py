"""The CloudEvents 1.0 envelope in structured mode (the whole event is the JSON message value)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
_REQUIRED = ("id", "source", "type", "specversion")


class EnvelopeError(ValueError):
    """A message that is not a well-formed CloudEvent."""


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: str
    subject: str | None
    data: dict[str, Any]
    # Extension attribute: the originating request's id (CloudEvents names are lowercase alphanumerics).
    correlationid: str | None = None
    specversion: str = field(default=SPEC_VERSION)
    datacontenttype: str = field(default="application/json")

    def to_json(self) -> str:
        body = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "subject": self.subject,
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }
        if self.correlationid:
            body["correlationid"] = self.correlationid
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeError(f"message is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise EnvelopeError("message is not a JSON object")
        missing = [name for name in _REQUIRED if not body.get(name)]
        if missing:
            raise EnvelopeError(f"CloudEvent lacks {', '.join(missing)}")
        if body["specversion"] != SPEC_VERSION:
            raise EnvelopeError(f"unsupported specversion {body['specversion']!r}")
        return cls(
            id=str(body["id"]),
            source=str(body["source"]),
            type=str(body["type"]),
            time=str(body.get("time") or ""),
            subject=body.get("subject"),
            data=body.get("data") or {},
            correlationid=body.get("correlationid"),
        )

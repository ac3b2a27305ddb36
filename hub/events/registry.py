"""Event types (each with a JSON Schema kept beside its module) and the handlers consumers register."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from jsonschema import Draft202012Validator

TYPE_NAME = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*\.[a-z][a-z_]*\.v[1-9][0-9]*$")


class EventSchemaError(ValueError):
    """Event data does not match its type's JSON Schema; the message names the field."""


class UnknownEventType(LookupError):
    pass


class Event:
    """Base of every event: a frozen dataclass whose fields are the CloudEvent's `data`."""

    type_name: ClassVar[str]
    validator: ClassVar[Draft202012Validator]

    def to_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(**data)

    @property
    def context(self) -> str:
        return self.type_name.split(".", 1)[0]


E = TypeVar("E", bound=type[Event])
_types: dict[str, type[Event]] = {}


def event_type(name: str) -> Callable[[E], E]:
    """Register an event class under a versioned type name; loads `schemas/<name>.json` beside its module."""
    if not TYPE_NAME.match(name):
        raise ValueError(f"event type {name!r} must read <context>.<entity>.<fact>.v<N>")

    def register(cls: E) -> E:
        module_file = sys.modules[cls.__module__].__file__
        assert module_file is not None
        schema_path = Path(module_file).parent / "schemas" / f"{name}.json"
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        existing = _types.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"event type {name} is already registered by {existing.__qualname__}")
        cls.type_name = name
        cls.validator = Draft202012Validator(schema)
        _types[name] = cls
        return cls

    return register


def event_class(name: str) -> type[Event]:
    try:
        return _types[name]
    except KeyError:
        raise UnknownEventType(f"no event type {name!r} is registered") from None


def validate(name: str, data: Any) -> None:
    """Raise EventSchemaError naming the first offending field, if `data` breaks the type's schema."""
    errors = sorted(event_class(name).validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = [str(part) for part in first.absolute_path]
        message = first.message
        if first.validator == "required":
            # Name the missing field itself, not the object that lacks it.
            path.append(next(p for p in first.validator_value if p not in first.instance))
            message = "is required"
        raise EventSchemaError(f"{name}: field {'.'.join(path) or '(event data)'}: {message}")


def decode(name: str, data: Any) -> Event:
    """Validate and build the typed event for a consumer."""
    validate(name, data)
    return event_class(name).from_data(data)


Handler = Callable[[Any], None]
_handlers: dict[str, dict[str, list[Handler]]] = defaultdict(lambda: defaultdict(list))


def handles(name: str, *, consumer: str) -> Callable[[Handler], Handler]:
    """Register `fn` to apply events of type `name` in the consumer group `consumer`."""

    def register(fn: Handler) -> Handler:
        if fn not in _handlers[consumer][name]:
            _handlers[consumer][name].append(fn)
        return fn

    return register


def handlers_for(consumer: str) -> dict[str, list[Handler]]:
    return {name: list(fns) for name, fns in _handlers.get(consumer, {}).items()}


def consumers() -> list[str]:
    return sorted(_handlers)

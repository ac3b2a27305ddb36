"""What every context's forms share: showing a service's refusal on the form that caused it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from django import forms


class Refusal(Protocol):
    """A service's named refusal (each context has its own family): a message, and errors by field name."""

    @property
    def message(self) -> str: ...

    @property
    def errors(self) -> Mapping[str, Sequence[str]]: ...


class RefusalMixin:
    """Shows a service's refusal on the form: field errors where it names the form's fields, else at the top."""

    def add_refusal(self, refusal: Refusal) -> None:
        form: forms.BaseForm = self  # type: ignore[assignment]
        placed = False
        for field, messages in refusal.errors.items():
            target = field if field in form.fields else None
            for message in messages:
                form.add_error(target, message)
            placed = placed or target is not None
        if not placed:
            form.add_error(None, refusal.message)

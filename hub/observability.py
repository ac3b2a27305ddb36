"""Correlation ids: one id follows a request into its events, tasks and every consumer's log lines."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def get_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> None:
    _correlation_id.set(value)


@contextmanager
def correlation(value: str | None) -> Iterator[None]:
    """Run a block (a handler, a task) under the correlation id it was given."""
    token = _correlation_id.set(value or new_correlation_id())
    try:
        yield
    finally:
        _correlation_id.reset(token)


class CorrelationIdMiddleware:
    """Adopt a well-formed incoming X-Request-ID or make one; echo it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        with correlation(incoming if _VALID_ID.match(incoming) else None):
            request.correlation_id = get_correlation_id()  # type: ignore[attr-defined]
            response = self.get_response(request)
            response[HEADER] = request.correlation_id  # type: ignore[attr-defined]
            return response


class CorrelationIdFilter(logging.Filter):
    """Adds `correlation_id` to every log record so the JSON formatter prints it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = get_correlation_id()
        return True

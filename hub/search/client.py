"""The Elasticsearch client (official `elasticsearch` package), one per URL and purpose, and its errors."""

from __future__ import annotations

import threading

from django.conf import settings
from elasticsearch import ApiError, Elasticsearch, TransportError

# What "search is unavailable" means to a caller: unreachable, timed out, or an error answer.
SearchUnavailable = (ApiError, TransportError)

_clients: dict[tuple[str, float, int], Elasticsearch] = {}
_lock = threading.Lock()


def client(*, timeout: float = 30.0, retries: int = 2) -> Elasticsearch:
    """A shared client for settings.ELASTICSEARCH_URL (read on each call, so tests can point it elsewhere).

    Pages ask with a short timeout and no retries, so an outage costs a reader one quick failure and
    the database fallback, not three slow ones; the indexer and commands keep the defaults.
    """
    key = (settings.ELASTICSEARCH_URL, timeout, retries)
    with _lock:
        es = _clients.get(key)
        if es is None:
            es = _clients[key] = Elasticsearch(
                settings.ELASTICSEARCH_URL,
                request_timeout=timeout,
                max_retries=retries,
                retry_on_timeout=retries > 0,
            )
    return es

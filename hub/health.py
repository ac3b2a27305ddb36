"""/healthz (the process answers) and /readyz (every backing service answers)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

TIMEOUT_S = 2.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S).ping()


def _kafka() -> None:
    admin = KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        request_timeout_ms=int(TIMEOUT_S * 1000),
        client_id="wanzhi-readyz",
    )
    try:
        admin.list_topics()
    finally:
        admin.close()


def _search() -> None:
    if not Elasticsearch(settings.ELASTICSEARCH_URL, request_timeout=TIMEOUT_S).ping():
        raise ConnectionError("no answer")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "redis": _redis,
    "kafka": _kafka,
    "search": _search,
}


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # any failure means 'not ready'; the reason is reported, not raised
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    ready = all(result["ok"] for result in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )

"""Whole-page cache for anonymous readers of portal pages, emptied on every publish.

Misses go through Django (`serve_cached` wraps Wagtail's page view and marks what may be shared;
`PageCacheStoreMiddleware`, outermost, stores it with the headers every middleware added);
hits are answered by `PageCacheMiddleware`, an ASGI layer in front of Django that reads Redis
asynchronously, so a cached page never waits for Django's request thread.

Every entry's key carries a site-wide version; publishing, unpublishing, moving or deleting any
page bumps the version once the change commits, so no reader sees a page older than the last
publish. A page is cached per host, path and query, language, and display preference (schemes and
zoom are rendered on the server). Requests carrying a session or pending messages are never
cached, nor responses that set cookies other than the CSRF one. Entries are stored as plain bytes
and JSON (never pickle) in the cache's Redis database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import redis
import redis.asyncio
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.utils.translation import get_language, get_language_from_path
from wagtail.views import serve

from hub.cms.display import COOKIE_NAME as DISPLAY_COOKIE
from hub.cms.display import display_parse

VERSION_KEY = "wanzhi:pages:version"
TIMEOUT_S = 600
UNCACHEABLE_COOKIES = (settings.SESSION_COOKIE_NAME, "messages")
# Response headers never replayed to another reader.
PRIVATE_HEADERS = {"set-cookie", "x-page-cache", "x-request-id"}


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_URL)


def invalidate_pages() -> None:
    _redis().incr(VERSION_KEY)


def invalidate_pages_on_commit() -> None:
    # Before the commit, a concurrent reader could cache the old page again under the new version.
    transaction.on_commit(invalidate_pages)


def page_variant(*, host: str, path: str, query: str, language: str, cookies: dict[str, str]) -> str | None:
    """What makes one cached copy of a page differ from another; None if the answer must not be shared."""
    if any(name in cookies for name in UNCACHEABLE_COOKIES):
        return None
    display = display_parse(cookies.get(DISPLAY_COOKIE)).as_cookie()
    return hashlib.sha256(f"{host}|{path}?{query}|{language}|{display}".encode()).hexdigest()


def entry_key(version: bytes | int, variant: str) -> str:
    return f"wanzhi:page:{int(version)}:{variant}"


# --- the Django side: render, then store ---------------------------------------------------------
def serve_cached(request: HttpRequest, path: str) -> HttpResponse:
    """Wagtail's serve; an anonymous reader's page is marked for PageCacheStoreMiddleware to keep."""
    response = serve(request, path)
    if request.method == "GET" and not request.user.is_authenticated:
        response.page_cache_variant = page_variant(  # type: ignore[attr-defined]
            host=request.get_host(),
            path=request.path,
            query=request.META.get("QUERY_STRING", ""),
            language=get_language(),
            cookies=request.COOKIES,
        )
    return response


class PageCacheStoreMiddleware:
    """The outermost Django middleware: stores marked pages with every header the others added."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        variant = getattr(response, "page_cache_variant", None)
        if variant and response.status_code == 200 and not set(response.cookies) - {settings.CSRF_COOKIE_NAME}:
            _store(variant, response)
            response["X-Page-Cache"] = "miss"
        return response


def _store(variant: str, response: HttpResponse) -> None:
    client = _redis()
    version = client.get(VERSION_KEY) or 0
    headers = [(name, value) for name, value in response.items() if name.lower() not in PRIVATE_HEADERS]
    key = entry_key(version, variant)
    pipe = client.pipeline()
    pipe.hset(key, mapping={"headers": json.dumps(headers), "body": response.content})
    pipe.expire(key, TIMEOUT_S)
    pipe.execute()


# --- the ASGI side: answer hits before Django ----------------------------------------------------
class PageCacheMiddleware:
    """Answers GETs whose page is cached straight from Redis; everything else goes to Django."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._clients: dict[int, redis.asyncio.Redis] = {}

    def _client(self) -> redis.asyncio.Redis:
        loop_id = id(asyncio.get_running_loop())  # an asyncio client belongs to the loop that made it
        if loop_id not in self._clients:
            self._clients[loop_id] = redis.asyncio.Redis.from_url(settings.CACHE_URL)
        return self._clients[loop_id]

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and (entry := await self._lookup(scope)):
            stored = json.loads(entry[b"headers"])
            headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in stored]
            headers.append((b"x-page-cache", b"hit"))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": entry[b"body"]})
            return
        await self.app(scope, receive, send)

    async def _lookup(self, scope: Scope) -> dict[bytes, bytes] | None:
        variant = scope_variant(scope)
        if variant is None:
            return None
        client = self._client()
        version = await client.get(VERSION_KEY) or 0
        entry = await client.hgetall(entry_key(version, variant))
        return entry if entry and b"body" in entry else None


def scope_variant(scope: Scope) -> str | None:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    # Portal pages take their language from the path (/en/...), as LocaleMiddleware does for i18n_patterns.
    return page_variant(
        host=headers.get("host", ""),
        path=scope["path"],
        query=scope.get("query_string", b"").decode(),
        language=get_language_from_path(scope["path"]) or settings.LANGUAGE_CODE,
        cookies=parse_cookie(headers.get("cookie", "")),
    )

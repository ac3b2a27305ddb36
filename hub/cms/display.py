"""Display preferences (text size, colour scheme, elder mode, large cursor, reading guide) kept in one cookie.

The cookie is the one source of truth: the view below writes it, the context processor reads it
so that base.html renders the choices as classes on `<html>` (right on first paint, no flash),
and hub/static/hub/a11y.js posts to the same view to change them without a reload. The toolbar
follows GB/T 37668 (WCAG 2.1) and the elder-friendly (适老化) rules; see site.css for the looks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

COOKIE_NAME = "wanzhi_display"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60
# A real cookie is under 60 characters; anything much longer is not ours and is not parsed.
COOKIE_MAX_LENGTH = 200
# Where a browser without script lands after a change: inside the toolbar, which Chromium
# then opens (fragment navigation expands a closed <details>) so the next step is one Tab away.
TOOLBAR_FRAGMENT = "display-tools"

DEFAULT_SCHEME = "original"
# The four high-contrast schemes of the government-site rules, after the original look.
SCHEMES = {
    DEFAULT_SCHEME: _("Standard colours"),
    "dark": _("White on black"),
    "yellow-on-blue": _("Yellow on blue"),
    "black-on-yellow": _("Black on yellow"),
    "yellow-on-black": _("Yellow on black"),
}
ZOOM_STEPS = (100, 110, 125, 150, 175, 200)
TOGGLES = ("elder", "cursor", "guide")


@dataclass(frozen=True)
class Display:
    """One visitor's display choices; the defaults are the site as designed."""

    scheme: str = DEFAULT_SCHEME
    zoom: int = 100
    elder: bool = False
    cursor: bool = False
    guide: bool = False

    @property
    def html_class(self) -> str:
        """The classes base.html puts on <html>; a11y.js builds the same names (see `classesFor`)."""
        classes = []
        if self.scheme != DEFAULT_SCHEME:
            classes.append(f"scheme-{self.scheme}")
        if self.zoom != 100:
            classes.append(f"zoom-{self.zoom}")
        if self.elder:
            classes.append("elder")
        if self.cursor:
            classes.append("cursor-large")
        if self.guide:
            classes.append("guide")
        return " ".join(classes)

    @property
    def as_json(self) -> str:
        """The choices for a11y.js, which starts from them."""
        return json.dumps(asdict(self), separators=(",", ":"))

    def as_cookie(self) -> str:
        """Only what differs from the defaults, as `key:value` pairs joined by `|`.

        Both separators are legal cookie characters, so the value is never quoted.
        """
        default = Display()
        parts = []
        for key, value in asdict(self).items():
            if value != getattr(default, key):
                parts.append(f"{key}:{int(value) if isinstance(value, bool) else value}")
        return "|".join(parts)


def display_parse(value: str | None) -> Display:
    """Read the cookie strictly: unknown keys, unknown values and malformed parts are ignored."""
    if not value or len(value) > COOKIE_MAX_LENGTH:
        return Display()
    fields: dict[str, Any] = {}
    for part in value.split("|"):
        key, _sep, raw = part.partition(":")
        if key == "scheme" and raw in SCHEMES:
            fields["scheme"] = raw
        elif key == "zoom" and raw.isdigit() and int(raw) in ZOOM_STEPS:
            fields["zoom"] = int(raw)
        elif key in TOGGLES and raw in ("0", "1"):
            fields[key] = raw == "1"
    return Display(**fields)


def display_change(display: Display, *, data: Any) -> Display:
    """Apply what the pressed button sent (`scheme`, `zoom`, a toggle, or `reset`); ignore anything else."""
    if data.get("reset") == "all":
        return Display()
    if data.get("scheme") in SCHEMES:
        display = replace(display, scheme=data["scheme"])
    if "zoom" in data:
        display = replace(display, zoom=_zoom_step(display.zoom, data["zoom"]))
    for toggle in TOGGLES:
        if data.get(toggle) in ("on", "off"):
            display = replace(display, **{toggle: data[toggle] == "on"})
    return display


def _zoom_step(current: int, action: str) -> int:
    """One step larger or smaller (clamped at the ends), back to 1×, or straight to a listed step."""
    index = ZOOM_STEPS.index(current)
    if action == "in":
        return ZOOM_STEPS[min(index + 1, len(ZOOM_STEPS) - 1)]
    if action == "out":
        return ZOOM_STEPS[max(index - 1, 0)]
    if action == "reset":
        return 100
    return int(action) if action.isdigit() and int(action) in ZOOM_STEPS else current


def _safe_next(request: HttpRequest) -> str:
    """The page to go back to: only a URL on this site, never an open redirect."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else "/"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# No CSRF check: the endpoint only sets this visitor's own display cookie (nothing on the server, nothing
# an attacker gains), and portal pages are served from the page cache with another visitor's token in them.
@csrf_exempt
@require_POST
def display_update(request: HttpRequest) -> HttpResponse:
    """Change one display choice and save it in the cookie.

    A plain form post (no script) is redirected back to `next`; a11y.js asks for JSON and gets
    the saved choices, which it applies in place.
    """
    display = display_change(display_parse(request.COOKIES.get(COOKIE_NAME)), data=request.POST)
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse({"display": asdict(display), "classes": display.html_class})
    else:
        response = HttpResponseRedirect(f"{_safe_next(request).split('#')[0]}#{TOOLBAR_FRAGMENT}")
    value = display.as_cookie()
    if value:
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=COOKIE_MAX_AGE,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,  # script never reads it: the view's JSON answer carries the choices
        )
    else:
        response.delete_cookie(COOKIE_NAME, samesite="Lax")
    return response


def display_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the visitor's choices and what the toolbar offers, for base.html."""
    return {
        "display_prefs": display_parse(request.COOKIES.get(COOKIE_NAME)),
        "display_schemes": list(SCHEMES.items()),
        "display_zoom_steps": " ".join(str(step) for step in ZOOM_STEPS),
    }

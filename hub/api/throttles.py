"""Request rates of the open API: per address for anonymous callers, per account for signed-in ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

if TYPE_CHECKING:  # rest_framework.views imports the throttle classes from the settings: no cycle at run time
    from rest_framework.request import Request
    from rest_framework.views import APIView


class _LiveRate:
    """DRF binds the rates when its throttle classes are defined; reading them per request follows a
    settings change (a test's, or a deployment's reload) instead."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_LiveRate, AnonRateThrottle):
    """Anonymous callers, by address (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"])."""


class UserThrottle(_LiveRate, UserRateThrottle):
    """Signed-in callers, by account (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"])."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        # DRF's falls back to the address for anonymous callers, whom AnonThrottle counts already.
        if not request.user or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)

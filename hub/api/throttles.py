"""Request rates of the open API: per address for anonymous callers, per account for signed-in ones."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


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

"""The Wanzhi project and its shared kernel (accounts, events, CMS, search, open API)."""

from hub.celery import app as celery_app

__all__ = ["celery_app"]

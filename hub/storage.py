"""Storage for files that must never have a public URL (proposal attachments, application documents)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT, outside MEDIA_ROOT: no web server serves them; they leave only
    through views that check who is asking.

    The location is read from settings on every use, so a test can point it at its own directory.
    """

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("private files have no public URL; link to the view that checks permissions")


_private_storage = PrivateStorage()


def private_storage() -> PrivateStorage:
    """The storage, as a callable: migrations then record this path, not a deconstructed instance."""
    return _private_storage

"""Helpers of the scenario tests: what the outbox holds, and files of every kind to upload."""

from __future__ import annotations

import io
import json
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

from hub.events.models import OutboxEvent


def published(type_name: str) -> list[dict]:
    """The data of every event of a type in the outbox, oldest first."""
    bodies = OutboxEvent.objects.filter(type=type_name).order_by("id").values_list("body", flat=True)
    return [json.loads(body)["data"] for body in bodies]


def pdf(name: str = "方案.pdf", size: int = 0) -> SimpleUploadedFile:
    content = b"%PDF-1.7\n" + b"0" * max(size - 9, 10)
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def png(name: str = "架构图.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, content_type="image/png")


def office(name: str = "报价.docx", part: str = "word/document.xml") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<document/>")
    return SimpleUploadedFile(name, buffer.getvalue())


def plain_zip(name: str = "资料.zip") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "资料")
    return SimpleUploadedFile(name, buffer.getvalue())

"""Writes of the portal: turning a plain-text official document into a policy page."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.html import escape
from django.utils.text import slugify

from hub.accounts.models import User
from hub.cms.models import PolicyDocumentPage, PolicyLibraryPage
from hub.cms.official_text import Heading, OfficialDocument, parse_official_text

# Labels of the disclosure block, as official documents write them, → page fields.
METADATA_FIELDS = {
    "索引号": "index_number",
    "组配分类": "category",
    "发布机构": "issuing_body",
    "主题分类": "topic",
    "文号": "document_number",
    "发文字号": "document_number",
    "发布日期": "publish_date",
    "成文日期": "written_date",
}
REQUIRED = ("index_number", "category", "issuing_body", "topic", "publish_date")
FIELD_LABELS = {name: label for label, name in METADATA_FIELDS.items()}
DATE_FIELDS = ("publish_date", "written_date")


class ImportRefused(ValueError):
    """The text cannot become a policy page as it is; the message says what is missing or wrong."""


@dataclass
class ImportResult:
    page: PolicyDocumentPage
    headings: int
    paragraphs: int
    metadata: dict[str, Any] = field(default_factory=dict)


def official_document_fields(document: OfficialDocument, overrides: dict[str, Any]) -> dict[str, Any]:
    """Page fields from the document's metadata block; editor-given values win; refuse if mandatory ones lack."""
    fields: dict[str, Any] = {}
    for label, value in document.metadata.items():
        name = METADATA_FIELDS.get(label)
        if name and value and name not in fields:
            fields[name] = value
    fields.update({name: value for name, value in overrides.items() if value not in (None, "")})
    for name in DATE_FIELDS:
        if isinstance(fields.get(name), str):
            try:
                fields[name] = datetime.date.fromisoformat(fields[name].strip()[:10])
            except ValueError:
                raise ImportRefused(f"{FIELD_LABELS[name]}: {fields[name]!r} is not a date (YYYY-MM-DD)") from None
    missing = [FIELD_LABELS[name] for name in REQUIRED if not fields.get(name)]
    if missing:
        raise ImportRefused(f"the text does not give {', '.join(missing)}; enter them to import it")
    return fields


def official_document_body(document: OfficialDocument) -> list[dict[str, Any]]:
    """StreamField data: the preface, then headings (level 1 → h2 …) and paragraphs in order."""
    body: list[dict[str, Any]] = [{"type": "paragraph", "value": f"<p>{escape(p.text)}</p>"} for p in document.preface]
    for block in document.blocks:
        if isinstance(block, Heading):
            value = {"level": str(min(block.level + 1, 5)), "number": block.number, "text": block.text}
            body.append({"type": "heading", "value": value})
        else:
            body.append({"type": "paragraph", "value": f"<p>{escape(block.text)}</p>"})
    return body


def policy_import_official_text(
    *,
    library: PolicyLibraryPage,
    text: str,
    title: str | None = None,
    overrides: dict[str, Any] | None = None,
    publish: bool = False,
    by: User | None = None,
) -> ImportResult:
    """Create a policy page (a draft unless `publish`) from the plain text of an official document.

    Raises ImportRefused (or OfficialTextError, a ValueError) with a reason an editor can act on.
    """
    document = parse_official_text(text, title=title)
    fields = official_document_fields(document, overrides or {})
    if PolicyDocumentPage.objects.filter(index_number=fields["index_number"], locale=library.locale).exists():
        raise ImportRefused(f"a policy document with 索引号 {fields['index_number']} exists already")
    page = PolicyDocumentPage(
        title=document.title,
        slug=slugify(document.title, allow_unicode=True)[:80] or slugify(fields["index_number"]),
        body=official_document_body(document),
        live=False,
        owner=by,
        **fields,
    )
    page.full_clean(exclude=["path", "depth", "url_path", "slug"])
    with transaction.atomic():
        library.add_child(instance=page)
        revision = page.save_revision(user=by)
        if publish:
            revision.publish(user=by)
    headings = sum(isinstance(block, Heading) for block in document.blocks)
    return ImportResult(
        page=page,
        headings=headings,
        paragraphs=len(document.preface) + len(document.blocks) - headings,
        metadata=fields,
    )

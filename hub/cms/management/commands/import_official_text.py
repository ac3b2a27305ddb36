"""`manage.py import_official_text FILE --library SLUG`: a plain-text official document → a policy page."""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.cms.forms import decode_text
from hub.cms.models import PolicyLibraryPage
from hub.cms.services import policy_import_official_text


class Command(BaseCommand):
    help = "Import the plain text of a Chinese official document as a policy page (a draft unless --publish)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--library", required=True, help="slug of the policy library page")
        parser.add_argument("--title", help="the title, if the text does not carry it")
        parser.add_argument("--publish", action="store_true")
        for name in ("index_number", "category", "issuing_body", "topic", "document_number", "publish_date"):
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"{name} if the text lacks it")

    def handle(self, *args: Any, file: Path, library: str, title: str | None, publish: bool, **options: Any) -> None:
        target = PolicyLibraryPage.objects.filter(slug=library).first()
        if target is None:
            raise CommandError(f"no policy library with slug {library!r}")
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        overrides = {
            name: options[name]
            for name in ("index_number", "category", "issuing_body", "topic", "document_number", "publish_date")
        }
        try:
            result = policy_import_official_text(
                library=target, text=decode_text(file.read_bytes()), title=title, overrides=overrides, publish=publish
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(str(exc)) from None
        state = "published" if publish else "draft"
        self.stdout.write(
            f"{state}: {result.page.title} ({result.headings} headings, {result.paragraphs} paragraphs) "
            f"at {result.page.url_path}"
        )

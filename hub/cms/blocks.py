"""StreamField blocks for portal pages: the building blocks of official documents and news."""

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.contrib.table_block.blocks import TableBlock
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.images.blocks import ImageChooserBlock


class HeadingBlock(blocks.StructBlock):
    """A numbered section heading; level 2–5 in the page (the page title is the h1)."""

    level = blocks.ChoiceBlock(
        choices=[("2", "H2"), ("3", "H3"), ("4", "H4"), ("5", "H5")], default="2", label=_("level")
    )
    number = blocks.CharBlock(required=False, max_length=20, label=_("number"), help_text=_("e.g. 一、 or （一）"))
    text = blocks.CharBlock(max_length=200, label=_("text"))

    class Meta:
        icon = "title"
        template = "cms/blocks/heading.html"
        label = _("Heading")

    def get_context(self, value, parent_context=None):  # type: ignore[no-untyped-def]
        context = super().get_context(value, parent_context)
        context["anchor"] = heading_anchor(value)
        return context


def heading_anchor(value: blocks.StructValue) -> str:
    """A stable fragment id for a heading, kept readable for Chinese titles."""
    return "h-" + (slugify(f"{value['number']}{value['text']}", allow_unicode=True) or "section")


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("image"))
    alt = blocks.CharBlock(
        max_length=250, label=_("alternative text"), help_text=_("What the image shows, for screen readers")
    )
    caption = blocks.CharBlock(required=False, max_length=250, label=_("caption"))

    class Meta:
        icon = "image"
        template = "cms/blocks/image.html"
        label = _("Image")


class ChartBlock(blocks.StructBlock):
    """A bar chart drawn from a small table, shown with its data table for screen readers."""

    title = blocks.CharBlock(max_length=200, label=_("title"))
    data = blocks.TextBlock(label=_("data"), help_text=_("One 'label, value' per line, e.g. 2023, 120"), rows=6)
    unit = blocks.CharBlock(required=False, max_length=20, label=_("unit"))

    class Meta:
        icon = "table"
        template = "cms/blocks/chart.html"
        label = _("Chart")

    def clean(self, value):  # type: ignore[no-untyped-def]
        value = super().clean(value)
        chart_rows(value["data"])  # raises a ValidationError naming the bad line
        return value

    def get_context(self, value, parent_context=None):  # type: ignore[no-untyped-def]
        context = super().get_context(value, parent_context)
        rows = chart_rows(value["data"])
        top = max((number for _, number in rows), default=0) or 1
        context["rows"] = [(label, number, round(100 * number / top, 1)) for label, number in rows]
        return context


def chart_rows(text: str) -> list[tuple[str, float]]:
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, _comma, number = line.replace("，", ",").rpartition(",")
        try:
            rows.append((label.strip(), float(number)))
        except ValueError:
            raise ValidationError(
                _("Line %(n)d: write 'label, number', got %(line)r") % {"n": line_number, "line": line}
            ) from None
        if not label.strip():
            raise ValidationError(_("Line %(n)d has no label") % {"n": line_number})
    return rows


class BodyBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(features=["bold", "italic", "link", "document-link"], label=_("Paragraph"))
    list = blocks.ListBlock(blocks.CharBlock(label=_("item")), label=_("List"), icon="list-ul")
    table = TableBlock(label=_("Table"))
    image = ImageBlock()
    document = DocumentChooserBlock(label=_("Document"), template="cms/blocks/document.html")
    chart = ChartBlock()


class AttachmentBlock(blocks.StreamBlock):
    document = DocumentChooserBlock(label=_("Attachment"), template="cms/blocks/document.html")

"""Template filters of the scenario pages: the reader's language version of a text, amounts in yuan."""

from typing import Any

from django import template
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def bilingual(obj: Any, field: str) -> str:
    """`obj.<field>_en` for English readers when it is filled, else the Chinese `obj.<field>`."""
    if (get_language() or "").startswith("en"):
        english = getattr(obj, f"{field}_en", "")
        if english:
            return english
    return getattr(obj, field, "")


@register.filter
def yuan(amount: int | None) -> str:
    """1200000 → “1,200,000 yuan” (元 in Chinese); empty for no amount."""
    if amount is None:
        return ""
    return _("%(amount)s yuan") % {"amount": number_format(amount, force_grouping=True)}


@register.filter
def bilingual_lang(obj: Any, field: str) -> str:
    """The language of what `bilingual` shows, for a `lang` attribute (screen readers switch voice)."""
    if (get_language() or "").startswith("en") and getattr(obj, f"{field}_en", ""):
        return "en"
    return "zh-Hans"

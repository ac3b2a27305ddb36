"""Template tags of the portal."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import translate_url
from wagtail.models import Page, Site

register = template.Library()


def _localized_root(request: HttpRequest | None) -> Page | None:
    site = Site.find_for_request(request) if request is not None else None
    return site.root_page.localized if site is not None else None


@register.simple_tag(takes_context=True)
def portal_menu(context: dict[str, Any]) -> QuerySet[Page] | list[Page]:
    """The top sections, in the page's language, that editors marked 'show in menus', in tree order."""
    root = _localized_root(context.get("request"))
    if root is None:
        return []
    return root.get_children().live().in_menu().public()


@register.simple_tag(takes_context=True)
def language_versions(context: dict[str, Any]) -> list[dict[str, Any]]:
    """Where this page is in each language: the page's translation, else that language's home page.

    Views that are not CMS pages have the same path under each language's prefix.
    """
    request: HttpRequest | None = context.get("request")
    if request is None:
        return []
    page = context.get("page")
    current = request.LANGUAGE_CODE
    if isinstance(page, Page):
        translations = {p.locale.language_code: p for p in page.get_translations(inclusive=True).live().public()}
        roots = _localized_root(request)
        homes = {} if roots is None else {p.locale.language_code: p for p in roots.get_translations(inclusive=True)}
    versions = []
    for code, name in settings.LANGUAGES:
        if isinstance(page, Page):
            target = translations.get(code) or homes.get(code)
            url = target.url if target is not None else translate_url("/", code)
        else:
            url = translate_url(request.get_full_path(), code)
        versions.append({"code": code, "name": name, "url": url, "current": code == current})
    return versions

"""Template tags of the portal."""

from typing import Any

from django import template
from django.db.models import QuerySet
from wagtail.models import Page, Site

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_menu(context: dict[str, Any]) -> QuerySet[Page] | list[Page]:
    """The site's top sections that editors marked 'show in menus', in tree order."""
    request = context.get("request")
    site = Site.find_for_request(request) if request is not None else None
    if site is None:
        return []
    return site.root_page.get_children().live().in_menu().public()

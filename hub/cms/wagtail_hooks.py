"""Wagtail admin additions: the official-document importer."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from hub.cms import admin_views


@hooks.register("register_admin_urls")
def register_import_url():  # type: ignore[no-untyped-def]
    return [path("import-official-text/", admin_views.import_official_text, name="cms_import_official_text")]


class ImportMenuItem(MenuItem):
    def is_shown(self, request):  # type: ignore[no-untyped-def]
        return admin_views.libraries_for(request.user).exists()


@hooks.register("register_admin_menu_item")
def register_import_menu_item():  # type: ignore[no-untyped-def]
    return ImportMenuItem(
        _("Import official document"), reverse("cms_import_official_text"), icon_name="doc-full", order=250
    )

"""Wagtail admin: import a plain-text official document as a draft policy page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from hub.cms.forms import OfficialTextImportForm
from hub.cms.models import PolicyLibraryPage
from hub.cms.services import policy_import_official_text


def libraries_for(user):  # type: ignore[no-untyped-def]
    """Libraries where this user may add pages (Wagtail's own page permissions decide)."""
    allowed = [lib.pk for lib in PolicyLibraryPage.objects.all() if lib.permissions_for_user(user).can_add_subpage()]
    return PolicyLibraryPage.objects.filter(pk__in=allowed)


def import_official_text(request: HttpRequest) -> HttpResponse:
    libraries = libraries_for(request.user)
    if not libraries.exists():
        raise PermissionDenied
    form = OfficialTextImportForm(request.POST or None, request.FILES or None, libraries=libraries)
    if request.method == "POST" and form.is_valid():
        try:
            result = policy_import_official_text(
                library=form.cleaned_data["library"],
                text=form.cleaned_data["text"],
                overrides=form.overrides(),
                by=request.user,  # type: ignore[arg-type]
            )
        except (ValueError, ValidationError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Imported as a draft: %(headings)d headings, %(paragraphs)d paragraphs. Check it, then submit it.")
                % {"headings": result.headings, "paragraphs": result.paragraphs},
            )
            return redirect("wagtailadmin_pages:edit", result.page.pk)
    return TemplateResponse(request, "cms/admin/import_official_text.html", {"form": form})

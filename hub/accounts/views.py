"""Account pages: sign up (sign in and out are Django's own views), and organisations' profiles."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from hub.accounts.forms import OrganisationProfileForm, SignupForm
from hub.accounts.models import Organisation
from hub.accounts.selectors import may_edit_profile
from hub.accounts.services import ProfileRefused, organisation_update_profile, user_register


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_register(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
            language=translation.get_language() or "zh-hans",
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("notifications:list")
    return render(request, "registration/signup.html", {"form": form})


def _in_reader_language(organisation: Organisation, field: str) -> tuple[str, str]:
    """(text, its language) of a bilingual field: the English one for English readers when there is one."""
    english = getattr(organisation, f"{field}_en", "")
    if (translation.get_language() or "").startswith("en") and english:
        return english, "en"
    return getattr(organisation, field), "zh-Hans"


def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An organisation's public profile: who it is, where, what it does, its capabilities and sectors."""
    organisation = get_object_or_404(Organisation, pk=pk)
    name, name_lang = _in_reader_language(organisation, "name")
    description, description_lang = _in_reader_language(organisation, "description")
    return render(
        request,
        "accounts/organisation_detail.html",
        {
            "organisation": organisation,
            "name": name,
            "name_lang": name_lang,
            "description": description,
            "description_lang": description_lang,
            "can_edit": may_edit_profile(user=request.user, organisation=organisation),
        },
    )


@login_required
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The profile form, for the organisation's administrators and staff (anyone else: 403)."""
    organisation = get_object_or_404(Organisation, pk=pk)
    if not may_edit_profile(user=request.user, organisation=organisation):
        raise PermissionDenied(_("Only the organisation's administrators may change its profile."))
    initial = {
        "name": organisation.name,
        "name_en": organisation.name_en,
        "region": organisation.region,
        "website": organisation.website,
        "description": organisation.description,
        "description_en": organisation.description_en,
        "capabilities": organisation.capabilities,
        "sectors": organisation.sectors,
    }
    form = OrganisationProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            organisation_update_profile(
                organisation=organisation,
                by=request.user,  # type: ignore[arg-type]  # signed in: login_required
                fields=form.profile_fields(),
            )
        except ProfileRefused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _("The profile is saved."))
            return redirect(organisation)
    return render(request, "accounts/organisation_form.html", {"organisation": organisation, "form": form})

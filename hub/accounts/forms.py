"""Forms of the account pages: sign up, and an organisation's profile."""

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import (
    MAX_CAPABILITIES,
    MAX_CAPABILITY_LENGTH,
    User,
    capabilities_from,
    validate_capabilities,
)
from hub.accounts.services import PROFILE_FIELDS, ProfileRefused
from hub.sectors import SECTORS


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=_("E-mail"), help_text=_("Notifications are sent here."))
    display_name = forms.CharField(label=_("Name shown to others"), max_length=150, required=False)

    class Meta:
        model = User
        fields = ("username", "email", "display_name")


class CapabilitiesField(forms.CharField):
    """Capability tags typed in one line, separated by , ， 、 or ; → a list (trimmed, each once)."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return capabilities_from(value)
        return capabilities_from(super().to_python(value) or "")

    def prepare_value(self, value: Any) -> Any:
        return "，".join(value) if isinstance(value, list | tuple) else value

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        validate_capabilities(value)

    def run_validators(self, value: Any) -> None:
        return  # CharField's validators would measure the list, not the tags


class OrganisationProfileForm(forms.Form):
    """What an organisation's administrators say about it; organisation_update_profile decides."""

    name = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    name_en = forms.CharField(
        label=_("English name"), max_length=200, required=False, widget=forms.TextInput(attrs={"lang": "en"})
    )
    region = forms.CharField(
        label=_("Region"), max_length=100, required=False, help_text=_("City or county, e.g. 合肥市")
    )
    website = forms.URLField(
        label=_("Website"), required=False, assume_scheme="https", widget=forms.URLInput(attrs={"autocomplete": "url"})
    )
    description = forms.CharField(
        label=_("What the organisation does (Chinese)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Products, customers, the problems it solves. Matching reads this."),
    )
    description_en = forms.CharField(
        label=_("What the organisation does (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "lang": "en"}),
    )
    capabilities = CapabilitiesField(label=_("Capabilities"), required=False)
    sectors = forms.MultipleChoiceField(
        label=_("Sectors"),
        required=False,
        choices=list(SECTORS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The sectors of the programme the organisation works in."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, in the reader's language (a lazy string with its numbers filled in at import would not be).
        self.fields["capabilities"].help_text = gettext(
            "Up to %(count)d short tags of at most %(length)d characters each, separated by commas or 、 "
            "(e.g. 医学影像，大模型). Matching with scenarios reads them."
        ) % {"count": MAX_CAPABILITIES, "length": MAX_CAPABILITY_LENGTH}

    def profile_fields(self) -> dict[str, Any]:
        """The cleaned values for organisation_update_profile."""
        return {name: self.cleaned_data[name] for name in PROFILE_FIELDS}

    def add_refusal(self, refusal: ProfileRefused) -> None:
        """The service's refusal as field errors where it names fields, else at the top."""
        placed = False
        for field, messages in refusal.errors.items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)
            placed = placed or target is not None
        if not placed:
            self.add_error(None, refusal.message)

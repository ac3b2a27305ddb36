"""Forms of the scenario pages: the listing's filters, the scenario form and the proposal form.

Forms check what each value means (types, choices, budget order, file types); whether a scenario
or proposal is complete enough to publish or send is the services' decision, reported back here
as field errors through `add_refusal`.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import Organisation
from hub.forms import RefusalMixin
from hub.scenarios.models import MAX_CAPABILITIES, MAX_CAPABILITY_LENGTH, Proposal, Scenario
from hub.scenarios.services import (
    MAX_ATTACHMENTS,
    PROPOSAL_FIELDS,
    SCENARIO_FIELDS,
    AttachmentRefused,
    attachment_check,
)
from hub.sectors import SECTORS

ANY: list[tuple[str, Any]] = [("", _("Any"))]


class ScenarioFilterForm(forms.Form):
    """The public listing's filters (GET): unknown values are field errors and are left out of the query."""

    sector = forms.ChoiceField(label=_("Sector"), required=False)
    city = forms.ChoiceField(label=_("City"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: Any, cities: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sector"].choices = ANY + list(SECTORS.items())  # type: ignore[attr-defined]
        self.fields["city"].choices = ANY + [(city, city) for city in cities]  # type: ignore[attr-defined]
        statuses = [(value, label) for value, label in Scenario.Status.choices if value in Scenario.PUBLIC]
        self.fields["status"].choices = ANY + statuses  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        """The valid filters only (a bad value in one field does not empty the whole listing)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields if name not in self.errors}


class ScenarioForm(RefusalMixin, forms.ModelForm):
    """Everything a publisher writes about a scenario; on a new scenario, also which organisation publishes it."""

    organisation = forms.ModelChoiceField(queryset=Organisation.objects.none(), label=_("Published by"))

    class Meta:
        model = Scenario
        fields = ["organisation", *SCENARIO_FIELDS]  # what scenario_create/scenario_update write
        widgets = {
            "description": forms.Textarea(attrs={"rows": 8}),
            "description_en": forms.Textarea(attrs={"rows": 8}),
            "data_available": forms.Textarea(attrs={"rows": 4}),
            "deadline": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "contact_email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "contact_phone": forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
            "contact_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "title_en": forms.TextInput(attrs={"lang": "en"}),
        }
        help_texts = {
            "title": _("In Chinese; required even for a draft."),
            "budget_min": _("Whole yuan; leave empty if open."),
            "budget_max": _("Whole yuan; leave empty if open."),
            "deadline": _("Proposals are taken until the end of this day."),
        }

    def __init__(self, *args: Any, organisations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organisations is None:  # an existing scenario keeps its publisher
            del self.fields["organisation"]
        else:
            self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
            if organisations.count() == 1:
                self.fields["organisation"].initial = organisations.first()
        self.fields["sector"].choices = [("", "—"), *SECTORS.items()]  # type: ignore[attr-defined]
        self.fields["description_en"].widget.attrs["lang"] = "en"
        for name in ("budget_min", "budget_max"):
            self.fields[name].widget.attrs.update({"min": 0, "step": 1, "inputmode": "numeric"})
        # Drafts may be incomplete: what publishing needs is checked by scenario_publish.
        for name, field in self.fields.items():
            if name not in ("title", "organisation"):
                field.required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("budget_min"), cleaned.get("budget_max")
        if low is not None and high is not None and low > high:
            self.add_error("budget_max", _("The upper budget must be at least the lower budget."))
        return cleaned

    def scenario_fields(self) -> dict[str, Any]:
        """The cleaned values for scenario_create / scenario_update (never the form's own save)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "organisation"}


class CapabilitiesField(forms.CharField):
    """Short tags typed in one line, separated by commas (, ，、) or semicolons → a list."""

    SEPARATORS = re.compile(r"[,，、;；\n]+")

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(tag).strip() for tag in value if str(tag).strip()]
        text = super().to_python(value)
        return [tag.strip() for tag in self.SEPARATORS.split(text) if tag.strip()]

    def prepare_value(self, value: Any) -> Any:
        return "，".join(value) if isinstance(value, list | tuple) else value

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(value) > MAX_CAPABILITIES:
            raise forms.ValidationError(_("At most %(count)d capabilities."), params={"count": MAX_CAPABILITIES})
        too_long = [tag for tag in value if len(tag) > MAX_CAPABILITY_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _("Keep each capability under %(length)d characters: %(tags)s"),
                params={"length": MAX_CAPABILITY_LENGTH + 1, "tags": "，".join(too_long)},
            )
        if len({tag.casefold() for tag in value}) != len(value):
            raise forms.ValidationError(_("Each capability once, please."))

    def run_validators(self, value: Any) -> None:
        return  # the CharField validators would measure the list, not the tags


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; each is checked like any attachment (services.attachment_check)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.docx,.xlsx,.pptx,.png,.jpg,.jpeg,.zip"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        uploads = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned = [super(MultipleFileField, self).clean(upload, initial) for upload in uploads]
        if len(cleaned) > MAX_ATTACHMENTS:
            raise forms.ValidationError(_("At most %(count)d files."), params={"count": MAX_ATTACHMENTS})
        errors = []
        for upload in cleaned:
            try:
                attachment_check(upload)
            except AttachmentRefused as refusal:
                errors.extend(refusal.errors.get("attachments", [refusal.message]))
        if errors:
            raise forms.ValidationError(errors)
        return cleaned


class ProposalForm(RefusalMixin, forms.ModelForm):
    """What a startup writes in its proposal, and the files it adds or removes."""

    organisation = forms.ModelChoiceField(queryset=Organisation.objects.none(), label=_("Sent by"))
    capabilities = CapabilitiesField(
        label=_("Capabilities"),
        required=False,
        help_text=_("Short tags separated by commas, e.g. 图像识别，边缘部署"),
    )
    attachments = MultipleFileField(
        label=_("Add files"),
        required=False,
        help_text=_("PDF, Word, Excel, PowerPoint, PNG, JPEG or ZIP; at most 10 MiB each."),
    )
    remove_attachments = forms.TypedMultipleChoiceField(
        label=_("Remove files"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Proposal
        fields = ["organisation", *PROPOSAL_FIELDS]  # what proposal_save_draft writes
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 8}),
            "references": forms.Textarea(attrs={"rows": 4}),
            "timeline": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {"price": _("Whole yuan; leave empty to discuss.")}

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
        if self.instance.pk:  # a draft belongs to its startup; the page names it
            self.fields["organisation"].initial = self.instance.organisation_id
            self.fields["organisation"].widget = forms.HiddenInput()
        elif organisations.count() == 1:
            self.fields["organisation"].initial = organisations.first()
            self.fields["organisation"].widget = forms.HiddenInput()
        self.fields["price"].widget.attrs.update({"min": 0, "step": 1, "inputmode": "numeric"})
        existing = list(self.instance.attachments.all()) if self.instance.pk else []
        self.fields["remove_attachments"].choices = [  # type: ignore[attr-defined]
            (attachment.pk, attachment.original_name) for attachment in existing
        ]
        if not existing:
            del self.fields["remove_attachments"]
        for name, field in self.fields.items():
            if name != "organisation":
                field.required = False

    def proposal_fields(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name] for name in ("summary", "capabilities", "references", "price", "timeline")
        }

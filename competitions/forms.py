"""Forms of the competition pages: the listing's filter, forming or joining a team, and a submission.

Forms check what each value is (a choice offered, a file given); whether the competition, team or
quota allows it is the services' decision, reported back here as field errors through `add_refusal`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from competitions.models import Competition, Phase, Submission, Team
from competitions.services import KIND_EXTENSIONS
from hub.forms import RefusalMixin


class CompetitionFilterForm(forms.Form):
    """The listing's status filter (GET); an unknown value is a field error and filters nothing."""

    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        statuses = [(value, label) for value, label in Competition.Status.choices if value in Competition.PUBLIC]
        self.fields["status"].choices = [("", _("Any")), *statuses]  # type: ignore[attr-defined]

    def chosen_status(self) -> str:
        """The valid status chosen, or "" for all."""
        return self.cleaned_data.get("status", "") if self.is_valid() else ""


class TeamCreateForm(RefusalMixin, forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=Team._meta.get_field("name").max_length)


class TeamJoinForm(RefusalMixin, forms.Form):
    invite_code = forms.CharField(
        label=_("Invite code"),
        max_length=Team._meta.get_field("invite_code").max_length,
        help_text=_("A member of the team finds it on their team page."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class SubmissionForm(RefusalMixin, forms.Form):
    """A submission to one phase: only the kinds it accepts are offered."""

    kind = forms.ChoiceField(label=_("Kind"), widget=forms.RadioSelect)
    file = forms.FileField(label=_("File"))
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=Submission._meta.get_field("description").max_length,
        help_text=_("For your team: what this submission tries."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, phase: Phase, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = [(kind, Phase.Kind(kind).label) for kind in phase.accepted_kinds]
        self.fields["kind"].choices = kinds  # type: ignore[attr-defined]
        if len(kinds) == 1:
            self.fields["kind"].initial = kinds[0][0]
        extensions = sorted({ext for kind in phase.accepted_kinds for ext in KIND_EXTENSIONS[kind]})
        self.fields["file"].widget.attrs["accept"] = ",".join(extensions)
        self.fields["file"].help_text = _("%(extensions)s; at most %(size)s MB.") % {
            "extensions": ", ".join(extensions),
            "size": f"{phase.max_upload_bytes / 1024**2:g}",
        }

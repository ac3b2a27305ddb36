from django import forms
from django.utils.translation import gettext_lazy as _

from hub.notifications.kinds import KINDS


class EmailPreferencesForm(forms.Form):
    """One checkbox per kind of notification: send me this by e-mail."""

    def __init__(self, *args: object, initial_choices: dict[str, bool], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for kind in KINDS.values():
            self.fields[kind.name] = forms.BooleanField(
                label=kind.label, required=False, initial=initial_choices.get(kind.name, True)
            )

    def choices(self) -> dict[str, bool]:
        return {name: bool(self.cleaned_data.get(name)) for name in self.fields}


class MarkReadForm(forms.Form):
    ids = forms.CharField(required=False, help_text=_("Comma-separated ids; empty marks all read"))

    def clean_ids(self) -> list[int] | None:
        raw = self.cleaned_data["ids"].strip()
        if not raw:
            return None
        try:
            return [int(part) for part in raw.split(",")]
        except ValueError:
            raise forms.ValidationError(_("Ids must be whole numbers separated by commas.")) from None

"""Forms of the applicants' pages: starting an application, one step of a form version's questions,
co-applicants and withdrawing. The questions are checked by funds.forms_builder.answers_validate (through
the services), never twice: a step form only reads what was posted and shows the errors it is given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django.forms.utils import ErrorDict
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import Organisation, User
from hub.forms import RefusalMixin


def in_language(spec: Mapping[str, Any], key: str) -> str:
    """A definition's text in the reader's language: the `<key>_en` text on English pages when given."""
    english = (translation.get_language() or "").startswith("en")
    return (english and spec.get(f"{key}_en")) or spec.get(key, "") or ""


class StartForm(RefusalMixin, forms.Form):
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.none(), label=_("Applying as"))
    title = forms.CharField(label=_("Project title"), max_length=200)
    requested_amount = forms.DecimalField(
        label=_("Amount requested (CNY)"), min_value=0, max_digits=14, decimal_places=2
    )

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["organisation"])
        field.queryset = organisations
        if organisations.count() == 1:
            field.initial = organisations.first()
            field.widget = forms.HiddenInput()


class TableWidget(forms.Widget):
    """A table of `rows` × the defined columns; its value is {"rows": [{column: cell}]}. Totals of the
    numeric columns are shown by funds.js and recomputed by the server, so none are posted."""

    template_name = "funds/widgets/table.html"
    use_fieldset = True

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        self.spec = spec

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[str, Any]:
        columns = [column["name"] for column in self.spec["columns"]]
        rows = [
            {column: data.get(f"{name}-{row}-{column}", "") for column in columns}
            for row in range(int(self.spec.get("rows") or 5))
        ]
        return {"rows": rows}

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        given = (value or {}).get("rows", []) if isinstance(value, Mapping) else []
        columns = [
            {"name": c["name"], "label": in_language(c, "label"), "numeric": bool(c.get("numeric"))}
            for c in self.spec["columns"]
        ]
        rows = []
        for index in range(max(int(self.spec.get("rows") or 5), len(given))):
            row = given[index] if index < len(given) and isinstance(given[index], Mapping) else {}
            rows.append(
                {
                    "number": index + 1,
                    "cells": [
                        {**column, "input": f"{name}-{index}-{column['name']}", "value": row.get(column["name"], "")}
                        for column in columns
                    ],
                }
            )
        totals = (value or {}).get("totals", {}) if isinstance(value, Mapping) else {}
        context["table"] = {"columns": columns, "rows": rows, "totals": [totals.get(c["name"], "") for c in columns]}
        return context


def _form_field(spec: Mapping[str, Any]) -> forms.Field:
    """A lenient form field for one question: it reads the posted value; answers_validate judges it."""
    kind = spec["type"]
    common: dict[str, Any] = {
        "label": in_language(spec, "label"),
        "help_text": in_language(spec, "help"),
        "required": bool(spec.get("required")),
    }
    choices = [(choice["value"], in_language(choice, "label")) for choice in spec.get("choices", [])]
    if kind == "long_text":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), **common)
    if kind in ("number", "money"):
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
    if kind == "date":
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == "choice":
        return forms.ChoiceField(widget=forms.RadioSelect, choices=choices, **common)
    if kind == "multi_choice":
        return forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=choices, **common)
    if kind == "file":
        accept = ",".join(spec.get("file_types") or [])
        return forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": accept}), **common)
    if kind == "table":
        return forms.Field(widget=TableWidget(spec), **common)
    if kind == "declaration":
        return forms.BooleanField(**common)
    return forms.CharField(**common)


class StepForm(RefusalMixin, forms.Form):
    """The questions of one step. `answers()` and `uploads()` are what was posted, for the services;
    `show_errors()` places the refusal's errors on the questions."""

    use_required_attribute = False  # drafts are saved incomplete; the browser must not block them

    def __init__(self, *args: Any, questions: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for spec in self.questions:
            self.fields[spec["name"]] = _form_field(spec)

    def answers(self) -> dict[str, Any]:
        """The posted answers of this step's questions (files apart)."""
        return {
            name: field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
            for name, field in self.fields.items()
            if not isinstance(field, forms.FileField)
        }

    def uploads(self) -> dict[str, Any]:
        return {
            name: self.files[name]
            for name, field in self.fields.items()
            if isinstance(field, forms.FileField) and name in self.files
        }

    def show_errors(self, refusal: Any) -> None:
        self.cleaned_data: dict[str, Any] = {}
        self._errors = ErrorDict()
        self.add_refusal(refusal)

    def specs(self) -> list[tuple[Any, Mapping[str, Any]]]:
        """Each bound field with its question's definition (for the show-if markup)."""
        return [(self[spec["name"]], spec) for spec in self.questions]


class CoApplicantsForm(RefusalMixin, forms.Form):
    co_applicants = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Co-applicants"),
        help_text=_("Members of your organisation who may edit and submit this application with you."),
    )

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelMultipleChoiceField, self.fields["co_applicants"])
        field.queryset = members


class WithdrawForm(RefusalMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why are you withdrawing? (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm = forms.BooleanField(label=_("Yes, withdraw this application. This cannot be undone."))

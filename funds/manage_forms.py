"""Forms of the fund managers' and reviewers' pages: calls, rubric and pool, the dashboard's filters and bulk
actions, decisions, assignments, conflicts, tranches, milestone reports, payments and the rubric scores.

Forms check what each value is; whether the application allows it is the services' decision, shown back
on the form through RefusalMixin.add_refusal.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from funds.models import Application, ApplicationForm, Call, PoolReviewer, RubricCriterion
from funds.selectors import DashboardFilters
from funds.services import CALL_FIELDS
from hub.accounts.models import Organisation
from hub.forms import RefusalMixin

BULK_ACTIONS = [
    ("screen", _("Take into screening")),
    ("start_review", _("Send to review")),
    ("assign", _("Assign reviewers automatically")),
]
# The keys of funds.selectors.DASHBOARD_ORDERS.
ORDERS = [
    ("submitted", _("Oldest submission first")),
    ("mean", _("Highest mean score")),
    ("spread", _("Widest spread")),
]


def _words(value: str) -> list[str]:
    """Comma-separated words (either comma), blanks dropped."""
    return [word.strip() for word in value.replace("，", ",").split(",") if word.strip()]


def _call_field(name: str) -> models.Field:
    return cast(models.Field, Call._meta.get_field(name))


class CallForm(RefusalMixin, forms.ModelForm):
    """Every term of a draft call a manager sets (services.CALL_FIELDS)."""

    eligible_kinds = forms.MultipleChoiceField(
        label=_("Eligible organisation kinds"),
        choices=Organisation.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any kind."),
    )
    eligible_regions = forms.CharField(
        label=_("Eligible regions"), required=False, help_text=_("Separated by commas; empty: any region.")
    )

    class Meta:
        model = Call
        fields = CALL_FIELDS
        widgets = {
            "opens_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "closes_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "description": forms.Textarea(attrs={"rows": 5}),
            "description_en": forms.Textarea(attrs={"rows": 5}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["eligible_regions"] = ", ".join(self.instance.eligible_regions)
        # Only a published form has a frozen version for applicants to answer; a draft one is not offered.
        form_field = cast(forms.ModelChoiceField, self.fields["form"])
        form_field.queryset = ApplicationForm.objects.filter(live=True).order_by("name")
        # A term with a default (reviewers per application, the fast track...) may be left empty.
        for name in self._defaulted():
            self.fields[name].required = False

    def _defaulted(self) -> list[str]:
        return [name for name in CALL_FIELDS if name in self.fields and _call_field(name).has_default()]

    def clean_eligible_regions(self) -> list[str]:
        return _words(self.cleaned_data["eligible_regions"])

    def _post_clean(self) -> None:
        """The services validate the call (window, envelope against the fund) and say so via add_refusal."""

    def service_fields(self) -> dict[str, Any]:
        fields = {name: self.cleaned_data[name] for name in CALL_FIELDS}
        for name in self._defaulted():
            if fields[name] in (None, ""):
                fields[name] = _call_field(name).get_default()
        return fields


class CriterionForm(forms.Form):
    title = forms.CharField(label=_("Criterion"), max_length=200)
    title_en = forms.CharField(label=_("English title"), max_length=200, required=False)
    weight = forms.DecimalField(label=_("Weight"), min_value=0.01, max_digits=5, decimal_places=2)
    max_score = forms.IntegerField(label=_("Highest score"), min_value=1, max_value=100)


class BaseRubricFormSet(forms.BaseFormSet):
    def criteria(self) -> list[dict[str, Any]]:
        """The filled rows in order, as call_set_rubric takes them (blank extra rows dropped)."""
        return [form.cleaned_data for form in self.forms if form.cleaned_data]

    def add_refusal(self, refusal: Any) -> None:
        """A service's refusal above the rows (its field names point into the list, not at a form)."""
        details = [message for messages in refusal.errors.values() for message in messages]
        self._non_form_errors = self.error_class([refusal.message, *details])


RubricFormSet = forms.formset_factory(CriterionForm, formset=BaseRubricFormSet, extra=2, min_num=1)


def rubric_initial(call: Call) -> list[dict[str, Any]]:
    return [
        {"title": c.title, "title_en": c.title_en, "weight": c.weight, "max_score": c.max_score}
        for c in RubricCriterion.objects.filter(call=call)
    ]


class PoolForm(RefusalMixin, forms.Form):
    """The reviewer pool, one reviewer a line: their user name or e-mail address, then their expertise tags,
    all separated by commas."""

    pool = forms.CharField(
        label=_("Reviewer pool"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text=_("One reviewer a line: user name or e-mail, then expertise tags, separated by commas."),
    )

    def clean_pool(self) -> dict[Any, list[str]]:
        lines = [_words(line) for line in self.cleaned_data["pool"].splitlines()]
        lines = [line for line in lines if line]
        names = [line[0] for line in lines]
        users = get_user_model().objects.filter(Q(username__in=names) | Q(email__in=names))
        found = {key: user for user in users for key in (user.username, user.email) if key}
        unknown = [name for name in names if name not in found]
        if unknown:
            raise forms.ValidationError(_("No such user: %(names)s") % {"names": "、".join(unknown)})
        return {found[line[0]]: line[1:] for line in lines}

    @staticmethod
    def initial_for(call: Call) -> str:
        members = PoolReviewer.objects.filter(call=call).select_related("reviewer").order_by("id")
        return "\n".join(", ".join([m.reviewer.username, *m.expertise]) for m in members)


class DashboardFilterForm(forms.Form):
    """The dashboard's filters (GET); anything unreadable falls back to the whole queue."""

    status = forms.ChoiceField(label=_("Stage"), required=False)
    search = forms.CharField(label=_("Title, applicant or number"), required=False, max_length=200)
    outliers_only = forms.BooleanField(label=_("Only where reviewers disagree"), required=False)
    order = forms.ChoiceField(label=_("Order"), choices=ORDERS, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stages = [(value, label) for value, label in Application.Status.choices if value != Application.Status.DRAFT]
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("All stages")), *stages]

    def filters(self) -> DashboardFilters:
        if not self.is_valid():
            return DashboardFilters()
        data = self.cleaned_data
        return DashboardFilters(
            status=data["status"],
            search=data["search"],
            outliers_only=data["outliers_only"],
            order=data["order"] or "submitted",
        )


class IdsField(forms.Field):
    """Application numbers ticked in a table (any number of `name=<id>` values)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value or []
        if not all(str(v).isdigit() for v in values):
            raise forms.ValidationError(_("Tick the applications in the table."))
        return sorted({int(v) for v in values})


class BulkForm(forms.Form):
    """A bulk action on the ticked applications (automatic assignment serves the whole call)."""

    action = forms.ChoiceField(label=_("Action"), choices=BULK_ACTIONS)
    applications = IdsField(label=_("Applications"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in ("screen", "start_review") and not data.get("applications"):
            raise forms.ValidationError(_("Tick the applications to act on."))
        return data


class StepForm(RefusalMixin, forms.Form):
    """A step without fields (publishing a call): only there to show the service's refusal."""


class ReasonForm(RefusalMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ApproveForm(RefusalMixin, forms.Form):
    amount = forms.CharField(label=_("Approved amount (CNY)"), max_length=30)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class AmendForm(RefusalMixin, forms.Form):
    approved_amount = forms.CharField(label=_("New approved amount (CNY)"), max_length=30)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class TrancheForm(forms.Form):
    milestone = forms.CharField(label=_("Milestone"), max_length=300)
    milestone_en = forms.CharField(label=_("English milestone"), max_length=300, required=False)
    amount = forms.CharField(label=_("Amount (CNY)"), max_length=30)
    due = forms.DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}))


class BaseTrancheFormSet(BaseRubricFormSet):
    def tranches(self) -> list[dict[str, Any]]:
        return self.criteria()


TrancheFormSet = forms.formset_factory(TrancheForm, formset=BaseTrancheFormSet, extra=3, min_num=1)


class ReviewerChoiceForm(RefusalMixin, forms.Form):
    """A reviewer of the call's pool: to assign by hand, or to record a conflict of."""

    reviewer = forms.ModelChoiceField(label=_("Reviewer"), queryset=get_user_model().objects.none())
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, call: Call, reason_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["reviewer"]).queryset = (
            get_user_model().objects.filter(review_pools=call).order_by("username")
        )
        self.fields["reason"].required = reason_required


class UnassignForm(RefusalMixin, forms.Form):
    assignment = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class ReportReviewForm(RefusalMixin, forms.Form):
    report = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("accept", _("Accept")), ("return", _("Return for changes"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class PayForm(RefusalMixin, forms.Form):
    tranche = forms.IntegerField(widget=forms.HiddenInput)
    reference = forms.CharField(label=_("Payment reference"), max_length=100)


class ReviewForm(RefusalMixin, forms.Form):
    """The call's rubric: a whole-number score for each criterion (field `c<criterion id>`), and a comment."""

    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 6}), required=False)

    def __init__(self, *args: Any, criteria: list[RubricCriterion], english: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        scores = {}
        for criterion in criteria:
            title = criterion.title_en if english and criterion.title_en else criterion.title
            scores[f"c{criterion.pk}"] = forms.IntegerField(
                label=title,
                min_value=0,
                max_value=criterion.max_score,
                help_text=_("0 to %(max)d; weight %(weight)s")
                % {"max": criterion.max_score, "weight": criterion.weight.normalize()},
            )
        self.fields = {**scores, "comment": self.fields["comment"]}

    def scores(self) -> dict[str, int]:
        return {str(c.pk): self.cleaned_data[f"c{c.pk}"] for c in self.criteria}

    def add_refusal(self, refusal: Any) -> None:
        # The service names criteria by id; the form's fields carry a prefix.
        refusal.errors = {
            (f"c{name}" if f"c{name}" in self.fields else name): messages for name, messages in refusal.errors.items()
        }
        super().add_refusal(refusal)

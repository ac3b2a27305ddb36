"""Forms of the hosts' competition pages: a competition, a phase with its scoring, its data, baselines,
the submissions filter, hiding and disqualifying, closing a phase and importing a bundle.

Forms check what each value is; whether the competition allows it is the services' decision, shown back
on the form through `add_refusal` (the entrant forms' RefusalMixin).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from competitions.forms import RefusalMixin
from competitions.models import Competition, Phase, Submission
from competitions.services import COMPETITION_FIELDS, PHASE_FIELDS, TRANSITIONS
from hub.accounts.models import Organisation
from services.scorer.config import PROVIDES
from services.scorer.metrics import METRICS

OUTPUTS = [
    ("label", _("A class per row")),
    ("proba", _("A probability per class")),
    ("value", _("A number per row")),
    ("text", _("Text per row")),
]
LABEL_TYPES = [("int", _("Whole numbers")), ("str", _("Text"))]


class CompetitionForm(RefusalMixin, forms.ModelForm):
    """Every field a host may set on a competition (services.COMPETITION_FIELDS)."""

    class Meta:
        model = Competition
        fields = COMPETITION_FIELDS
        widgets = {name: forms.Textarea(attrs={"rows": 6}) for name in COMPETITION_FIELDS if "description" in name}
        widgets.update({name: forms.Textarea(attrs={"rows": 8}) for name in ("rules", "rules_en", "prizes")})

    def __init__(self, *args: Any, organisations: list[Organisation] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = _("Letters, digits and hyphens; fixed once the competition is published.")
        if organisations is not None:  # creating: the host organisation is chosen once
            self.fields["host"] = forms.ModelChoiceField(
                label=_("Host organisation"), queryset=Organisation.objects.filter(pk__in=[o.pk for o in organisations])
            )
            if len(organisations) == 1:
                self.fields["host"].initial = organisations[0].pk

    def _post_clean(self) -> None:
        """The services validate the model (and the slug's uniqueness) and say so through add_refusal."""

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in COMPETITION_FIELDS}


class StatusForm(RefusalMixin, forms.Form):
    """The next status of a published competition: only the steps it may take now are offered."""

    status = forms.ChoiceField(label=_("New status"))

    def __init__(self, *args: Any, competition: Competition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        steps = TRANSITIONS.get(competition.status, frozenset())
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in Competition.Status.choices if value in steps
        ]


class PhaseForm(RefusalMixin, forms.ModelForm):
    """A phase's settings (services.PHASE_FIELDS) and its scoring: what submissions output, the primary
    metric, further metrics, how labels read and the classes."""

    output = forms.ChoiceField(label=_("What submissions predict"), choices=OUTPUTS)
    primary_metric = forms.ChoiceField(label=_("Primary metric (ranks the leaderboard)"))
    other_metrics = forms.MultipleChoiceField(
        label=_("Further metrics (shown as extra columns)"), required=False, widget=forms.CheckboxSelectMultiple
    )
    label_type = forms.ChoiceField(label=_("Labels are"), choices=LABEL_TYPES, initial="int")
    classes = forms.CharField(
        label=_("Classes"),
        required=False,
        help_text=_("Comma-separated, in the order of the probability columns; needed for probabilities."),
    )

    class Meta:
        model = Phase
        fields = [name for name in PHASE_FIELDS if name != "extra_columns"]
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("time_limit_seconds", "memory_limit_bytes", "max_upload_bytes", "daily_limit", "total_limit"):
            self.fields[name].validators.append(MinValueValidator(1))
            self.fields[name].widget.attrs["min"] = 1
        for name in ("starts_at", "ends_at"):
            self.fields[name].help_text = _("In the site's time zone (%(zone)s).") % {
                "zone": timezone.get_current_timezone_name()
            }
        self.fields["accepted_kinds"] = forms.MultipleChoiceField(
            label=_("Accepted submission kinds"), choices=Phase.Kind.choices, widget=forms.CheckboxSelectMultiple
        )
        metrics = [
            (name, f"{name} ({_('higher is better') if m.higher_is_better else _('lower is better')})")
            for name, m in METRICS.items()
        ]
        self.fields["primary_metric"].choices = metrics  # type: ignore[attr-defined]
        self.fields["other_metrics"].choices = metrics  # type: ignore[attr-defined]
        if self.instance.pk and not self.is_bound:
            config = self.instance.scoring_config
            self.initial.update(
                accepted_kinds=self.instance.accepted_kinds,
                output=config.get("output"),
                primary_metric=config.get("metrics", [""])[0],
                other_metrics=config.get("metrics", [])[1:],
                label_type=config.get("label_type", "str"),
                classes=", ".join(config.get("classes", [])),
            )

    def _post_clean(self) -> None:
        """The services validate the phase (window, limits, scoring) and say so through add_refusal."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        output, primary = data.get("output"), data.get("primary_metric")
        if output and primary and METRICS[primary].needs not in PROVIDES[output]:
            self.add_error("primary_metric", _("This metric cannot be computed from that kind of prediction."))
        others = [name for name in data.get("other_metrics", []) if name != primary]
        unfit = [name for name in others if output and METRICS[name].needs not in PROVIDES[output]]
        if unfit:
            self.add_error(
                "other_metrics",
                _("Cannot be computed from that kind of prediction: %(names)s") % {"names": ", ".join(unfit)},
            )
        data["other_metrics"] = others
        return data

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def scoring(self) -> dict[str, Any]:
        """The scoring settings as services.phase_create takes them; the rest of an existing configuration
        (parameters, custom metrics, limits) is kept."""
        data = self.cleaned_data
        classes = [c.strip() for c in data["classes"].split(",") if c.strip()]
        kept = dict(self.instance.scoring_config) if self.instance.pk else {}
        kept.update(
            output=data["output"],
            metrics=[data["primary_metric"], *data["other_metrics"]],
            label_type=data["label_type"],
            classes=classes,
        )
        kept["metric_params"] = {k: v for k, v in kept.get("metric_params", {}).items() if k in kept["metrics"]}
        return kept


class HiddenDataForm(RefusalMixin, forms.Form):
    labels = forms.FileField(
        label=_("Hidden labels (CSV)"),
        help_text=_("Columns id,label or id,label,split; UTF-8."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    inputs = forms.FileField(
        label=_("Hidden inputs (.npz)"),
        required=False,
        help_text=_("Arrays id and x, for phases that take models or code."),
        widget=forms.ClearableFileInput(attrs={"accept": ".npz"}),
    )


class ScoringProgramForm(RefusalMixin, forms.Form):
    program = forms.FileField(
        label=_("Scoring program (score.py)"),
        help_text=_(
            "Run in the sandbox as score.py predictions.csv labels.csv; it prints one JSON object of the "
            "configuration's custom metrics per split."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".py,text/x-python"}),
    )


class TrainingFileForm(RefusalMixin, forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class BaselineForm(RefusalMixin, forms.Form):
    """A reference entry with its primary-metric score on each split."""

    name = forms.CharField(label=_("Name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=100, required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    public = forms.FloatField(label=_("Score on the public split"))
    private = forms.FloatField(label=_("Score on the private split"), required=False)

    def scores(self, metric: str) -> dict[str, dict[str, float]]:
        data = self.cleaned_data
        scores = {"public": {metric: data["public"]}}
        if data.get("private") is not None:
            scores["private"] = {metric: data["private"]}
        return scores


class SubmissionFilterForm(forms.Form):
    """The submissions table's filters (GET); a bad value filters nothing and shows its error."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    team = forms.CharField(label=_("Team name contains"), required=False, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any")), *Submission.Status.choices]  # type: ignore[attr-defined]
        self.fields["kind"].choices = [("", _("Any")), *Phase.Kind.choices]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        """The valid filters chosen (empty strings for none)."""
        if not self.is_valid():
            return {"status": "", "kind": "", "team": ""}
        return {name: self.cleaned_data.get(name) or "" for name in ("status", "kind", "team")}


class ReasonForm(RefusalMixin, forms.Form):
    """Why a host hides, shows or disqualifies: required, kept in the audit log."""

    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ClosePhaseForm(RefusalMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand: the private leaderboard becomes public and the ranking is final."), required=True
    )


class BundleImportForm(RefusalMixin, forms.Form):
    bundle = forms.FileField(
        label=_("Bundle (.zip)"),
        help_text=_("A zip with competition.yaml and its data files, as the export writes it."),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    slug = forms.SlugField(
        label=_("Short name in the address"),
        required=False,
        max_length=80,
        help_text=_("Leave empty to use the bundle's."),
    )
    host = forms.ModelChoiceField(label=_("Host organisation"), queryset=Organisation.objects.none())

    def __init__(self, *args: Any, organisations: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["host"].queryset = Organisation.objects.filter(  # type: ignore[attr-defined]
            pk__in=[o.pk for o in organisations]
        )
        if len(organisations) == 1:
            self.fields["host"].initial = organisations[0].pk

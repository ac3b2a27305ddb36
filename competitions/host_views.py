"""The hosts' pages of their competitions: the list and creation, settings, publishing and status, phases
with scoring, hidden data, training files and baselines, the submissions table with hiding and
disqualifying, the audit log, closing a phase, exports, analytics and bundle import/export.

Only a competition's hosts get in: anyone else signed in gets a 404 for a draft and a 403 for a public
competition; anonymous visitors are sent to sign in. Every write is a service call; its refusal is shown
on the form that asked for it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from competitions import bundle, exports, selectors, services
from competitions.host_forms import (
    BaselineForm,
    BundleImportForm,
    ClosePhaseForm,
    CompetitionForm,
    HiddenDataForm,
    PhaseForm,
    ReasonForm,
    ScoringProgramForm,
    StatusForm,
    SubmissionFilterForm,
    TrainingFileForm,
)
from competitions.models import SPLIT_PRIVATE, SPLIT_PUBLIC, AuditEntry, Competition, DataFile, Phase, Submission
from competitions.services import COMPETITION_FIELDS, Refused
from competitions.views import _signed_in

PAGE_SIZE = 25
ACTIONS = ("hide", "show", "disqualify", "rescore")


def _hosted(request: HttpRequest, slug: str) -> Competition:
    """The competition, if the user hosts it: else a 404 for a draft (it does not exist for them) or a 403."""
    competition = Competition.objects.select_related("host").filter(slug=slug).first()
    if competition is None:
        raise Http404(_("No such competition."))
    if not selectors.is_host(user=request.user, competition=competition):
        if competition.is_public:
            raise PermissionDenied(_("Only the hosts of this competition may do this."))
        raise Http404(_("No such competition."))
    return competition


def _phase(competition: Competition, phase_id: int) -> Phase:
    return get_object_or_404(Phase, pk=phase_id, competition=competition)


def _posted(request: HttpRequest) -> Any:
    """The POST data to bind a form to (even when empty, so that a missing field is an error), else None."""
    return request.POST if request.method == "POST" else None


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if ok and target.startswith("/") else default


# --- competitions ----------------------------------------------------------------------------------
@login_required
def competition_list(request: HttpRequest) -> HttpResponse:
    """The competitions of the organisations the user hosts for, drafts included."""
    organisations = selectors.host_organisations(user=request.user)
    if not organisations:
        raise PermissionDenied(_("Only competition hosts may see this page."))
    page = Paginator(selectors.competitions_hosted(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "competitions/host/competition_list.html", {"page_obj": page})


@login_required
def competition_create(request: HttpRequest) -> HttpResponse:
    organisations = selectors.host_organisations(user=request.user)
    if not organisations:
        raise PermissionDenied(_("Only competition hosts may create competitions."))
    form = CompetitionForm(_posted(request), organisations=organisations)
    if request.method == "POST" and form.is_valid():
        try:
            competition = services.competition_create(
                host=form.cleaned_data["host"], by=_signed_in(request), fields=form.service_fields()
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _("The draft is saved. Add a phase, then publish it."))
            return redirect("competitions_host:edit", slug=competition.slug)
    return render(request, "competitions/host/competition_create.html", {"form": form})


@login_required
def competition_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Settings, publishing and status of one competition, with its phases listed."""
    competition = _hosted(request, slug)
    form = CompetitionForm(instance=competition)
    status_form = StatusForm(competition=competition)
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "settings":
            form = CompetitionForm(request.POST, instance=competition)
            if form.is_valid():
                competition = services.competition_update(
                    competition=competition, by=_signed_in(request), fields=form.service_fields()
                )
                messages.success(request, _("Saved."))
                return redirect("competitions_host:edit", slug=competition.slug)
        elif action == "publish":
            # Bound to the saved values, so that what publishing needs shows at the fields concerned.
            form = CompetitionForm(model_to_dict(competition, fields=COMPETITION_FIELDS), instance=competition)
            form.is_valid()
            services.competition_publish(competition=competition, by=_signed_in(request))
            messages.success(request, _("Published: entrants can now see the competition."))
            return redirect("competitions_host:edit", slug=slug)
        elif action == "status":
            status_form = StatusForm(request.POST, competition=competition)
            if status_form.is_valid():
                services.competition_set_status(
                    competition=competition, by=_signed_in(request), status=status_form.cleaned_data["status"]
                )
                messages.success(request, _("The status is changed."))
                return redirect("competitions_host:edit", slug=slug)
    except Refused as refusal:
        (status_form if action == "status" else form).add_refusal(refusal)
    context = {
        "competition": competition,
        "form": form,
        "status_form": status_form,
        "phases": list(competition.phases.order_by("starts_at", "id")),
        "tab": "settings",
    }
    return render(request, "competitions/host/competition_edit.html", context)


@login_required
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    competition = _hosted(request, slug)
    entries = AuditEntry.objects.filter(competition=competition).select_related("actor", "phase", "team")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "competitions/host/audit.html", {"competition": competition, "page_obj": page, "tab": "audit"}
    )


# --- phases ------------------------------------------------------------------------------------------
@login_required
def phase_create(request: HttpRequest, slug: str) -> HttpResponse:
    competition = _hosted(request, slug)
    form = PhaseForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            phase = services.phase_create(
                competition=competition, by=_signed_in(request), fields=form.service_fields(), scoring=form.scoring()
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _("The phase is added. Upload its hidden test data next."))
            return redirect("competitions_host:phase", slug=slug, phase_id=phase.pk)
    context = {"competition": competition, "form": form, "phase": None, "tab": "settings"}
    return render(request, "competitions/host/phase.html", context)


@login_required
def phase_edit(request: HttpRequest, slug: str, phase_id: int) -> HttpResponse:
    """A phase's settings and scoring, hidden test data, scoring program, training files, baselines and a
    rescore of the whole phase: one form each, told apart by the `action` they post."""
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    action = request.POST.get("action") if request.method == "POST" else None
    post, files = (request.POST, request.FILES)
    forms: dict[str, Any] = {
        "form": PhaseForm(post if action == "settings" else None, instance=phase),
        "hidden_form": HiddenDataForm(post if action == "hidden" else None, files if action == "hidden" else None),
        "training_form": TrainingFileForm(
            post if action == "training" else None, files if action == "training" else None
        ),
        "baseline_form": BaselineForm(post if action == "baseline" else None),
        "program_form": ScoringProgramForm(
            post if action == "program" else None, files if action == "program" else None
        ),
        "rescore_form": ReasonForm(post if action == "rescore" else None, prefix="rescore"),
    }
    bound = {
        "settings": "form",
        "hidden": "hidden_form",
        "training": "training_form",
        "baseline": "baseline_form",
        "program": "program_form",
        "rescore": "rescore_form",
    }
    form = forms[bound[action]] if action in bound else None
    if form is not None and form.is_valid():
        data = form.cleaned_data
        try:
            if action == "settings":
                services.phase_update(
                    phase=phase, by=_signed_in(request), fields=form.service_fields(), scoring=form.scoring()
                )
                done = _("The phase is saved.")
            elif action == "hidden":
                services.phase_hidden_data_upload(
                    phase=phase, by=_signed_in(request), labels=data["labels"], inputs=data.get("inputs")
                )
                done = _("The hidden test data is replaced.")
            elif action == "program":
                services.phase_scoring_program_upload(phase=phase, by=_signed_in(request), program=data["program"])
                done = _("The scoring program is replaced.")
            elif action == "rescore":
                count = services.phase_rescore(phase=phase, by=_signed_in(request), reason=data["reason"])
                done = _("%(count)d submissions are sent to be scored again.") % {"count": count}
            elif action == "training":
                services.phase_training_file_add(
                    phase=phase, by=_signed_in(request), upload=data["file"], description=data["description"]
                )
                done = _("The file is added.")
            else:
                services.baseline_set(
                    phase=phase,
                    by=_signed_in(request),
                    name=data["name"],
                    name_en=data["name_en"],
                    description=data["description"],
                    scores=form.scores(phase.primary_metric),
                )
                done = _("The baseline is saved.")
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, done)
            return redirect("competitions_host:phase", slug=slug, phase_id=phase.pk)
    data_files = list(phase.data_files.order_by("role", "original_name"))
    context = {
        "competition": competition,
        "phase": phase,
        "tab": "phase",
        "hidden_files": [f for f in data_files if f.is_hidden],
        "training_files": [f for f in data_files if f.role == DataFile.Role.TRAINING],
        "baselines": [
            (b, *((b.scores.get(split) or {}).get(phase.primary_metric) for split in (SPLIT_PUBLIC, SPLIT_PRIVATE)))
            for b in phase.baselines.all()
        ],
        **forms,
    }
    return render(request, "competitions/host/phase.html", context)


@login_required
def phase_close(request: HttpRequest, slug: str, phase_id: int) -> HttpResponse:
    """A confirmation step, then the close: the private ranking becomes final and public."""
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    form = ClosePhaseForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.phase_close(phase=phase, by=_signed_in(request))
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _("The phase is closed and its final ranking published."))
            return redirect("competitions_host:phase", slug=slug, phase_id=phase.pk)
    context = {"competition": competition, "phase": phase, "form": form, "tab": "phase"}
    return render(request, "competitions/host/phase_close.html", context)


# --- submissions -------------------------------------------------------------------------------------
@login_required
def submission_list(request: HttpRequest, slug: str, phase_id: int) -> HttpResponse:
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    filters = SubmissionFilterForm(request.GET or None)
    submissions = selectors.phase_submissions(phase=phase, **filters.filters())
    page = Paginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "competition": competition,
        "phase": phase,
        "filters": filters,
        "page_obj": page,
        "tab": "phase",
        "export_query": request.GET.urlencode(),
    }
    return render(request, "competitions/host/submissions.html", context)


@login_required
def submission_action(request: HttpRequest, slug: str, phase_id: int, pk: int, action: str) -> HttpResponse:
    """Hide, show again, rescore, or disqualify the submission's team, with a reason (audited). A GET or a
    missing reason shows the form on its own page."""
    if action not in ACTIONS:
        raise Http404(_("No such action."))
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    submission = get_object_or_404(Submission.objects.select_related("team"), pk=pk, phase=phase)
    form = ReasonForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            if action == "disqualify":
                services.submission_disqualify(submission=submission, by=_signed_in(request), reason=reason)
                done = _("Team %(team)s is disqualified.") % {"team": submission.team.name}
            elif action == "rescore":
                services.submission_rescore(submission=submission, by=_signed_in(request), reason=reason)
                done = _("Submission #%(id)d is sent to be scored again.") % {"id": submission.pk}
            else:
                services.submission_hide(
                    submission=submission, by=_signed_in(request), reason=reason, hidden=action == "hide"
                )
                done = _("Submission #%(id)d is hidden.") if action == "hide" else _("Submission #%(id)d is shown.")
                done = done % {"id": submission.pk}
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, done)
            return redirect(_back(request, reverse("competitions_host:submissions", args=[slug, phase.pk])))
    context = {
        "competition": competition,
        "phase": phase,
        "submission": submission,
        "action": action,
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "tab": "phase",
    }
    return render(request, "competitions/host/submission_action.html", context, status=400 if form.errors else 200)


# --- exports and analytics ---------------------------------------------------------------------------
def _csv_response(lines: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def leaderboard_csv(request: HttpRequest, slug: str, phase_id: int) -> StreamingHttpResponse:
    """The whole leaderboard of a split: public any time, private once the phase is closed."""
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    split = request.GET.get("split", SPLIT_PUBLIC)
    if split not in (SPLIT_PUBLIC, SPLIT_PRIVATE) or (split == SPLIT_PRIVATE and not phase.is_closed):
        # Checked before the response starts streaming (where leaderboard() would refuse too late).
        raise Http404(_("The private leaderboard is revealed when the phase closes."))
    lines = exports.csv_lines(exports.LEADERBOARD_COLUMNS, exports.leaderboard_rows(phase=phase, split=split))
    return _csv_response(lines, f"{competition.slug}-phase{phase.pk}-{split}-leaderboard.csv")


@login_required
def submissions_csv(request: HttpRequest, slug: str, phase_id: int) -> StreamingHttpResponse:
    """The phase's submissions (with the table's filters), streamed; private scores once closed."""
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    submissions = selectors.phase_submissions(phase=phase, **SubmissionFilterForm(request.GET or None).filters())
    rows = exports.submission_rows(submissions, private=phase.is_closed)
    return _csv_response(
        exports.csv_lines(exports.SUBMISSION_COLUMNS, rows), f"{competition.slug}-phase{phase.pk}-submissions.csv"
    )


@login_required
def submissions_zip(request: HttpRequest, slug: str, phase_id: int) -> FileResponse:
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    archive = exports.submissions_zip(Submission.objects.filter(phase=phase))
    response = FileResponse(archive, as_attachment=True, filename=f"{competition.slug}-phase{phase.pk}-submissions.zip")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def analytics(request: HttpRequest, slug: str, phase_id: int) -> HttpResponse:
    competition = _hosted(request, slug)
    phase = _phase(competition, phase_id)
    numbers = selectors.phase_analytics(phase=phase)
    peak = max((n for _day, n in numbers.per_day), default=0)
    bars = []
    for index, (day, n) in enumerate(numbers.per_day):
        height = round(100 * n / peak) if peak else 0
        bars.append({"day": day, "count": n, "x": index * 24, "y": 100 - height, "height": height})
    context = {
        "competition": competition,
        "phase": phase,
        "numbers": numbers,
        "bars": bars,
        "chart_width": max(24, 24 * len(bars)),
        "tab": "phase",
    }
    return render(request, "competitions/host/analytics.html", context)


# --- bundles -----------------------------------------------------------------------------------------
@login_required
def bundle_export(request: HttpRequest, slug: str) -> HttpResponseBase:
    """The competition as a bundle, hidden data included: the hosts' own data, for their eyes."""
    competition = _hosted(request, slug)
    try:
        archive = bundle.bundle_export(competition=competition, include_hidden=True)
    except FileNotFoundError:
        messages.error(
            request, _("A data file of this competition is missing from storage; the bundle cannot be made.")
        )
        return redirect("competitions_host:edit", slug=slug)
    response = FileResponse(archive, as_attachment=True, filename=f"{competition.slug}-bundle.zip")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def bundle_import(request: HttpRequest) -> HttpResponse:
    organisations = selectors.host_organisations(user=request.user)
    if not organisations:
        raise PermissionDenied(_("Only competition hosts may import competitions."))
    form = BundleImportForm(
        _posted(request), request.FILES if request.method == "POST" else None, organisations=organisations
    )
    if request.method == "POST" and form.is_valid():
        try:
            competition = bundle.bundle_import(
                bundle=form.cleaned_data["bundle"],
                host=form.cleaned_data["host"],
                by=_signed_in(request),
                slug=form.cleaned_data["slug"],
            )
        except bundle.BundleInvalid as invalid:
            for problem in invalid.errors:
                form.add_error("bundle", problem)
        else:
            messages.success(request, _("The competition is imported as a draft."))
            return redirect("competitions_host:edit", slug=competition.slug)
    return render(request, "competitions/host/bundle_import.html", {"form": form})

"""The applicants' pages: open calls, starting an application, the multi-step form with autosave and
attachments, the check before submitting, the receipt (page and PDF), the timeline, co-applicants and
withdrawing. Every write goes through funds.services; its refusals become form errors, its NotPermitted
(a PermissionDenied) Django's 403, and what a user may not see a 404."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from funds import selectors, services
from funds.forms import CoApplicantsForm, StartForm, StepForm, WithdrawForm, in_language
from funds.forms_builder import Step, questions, shown, steps
from funds.models import Application, Attachment, Call, FormVersion
from funds.services import Refused
from funds.workflow import APPLICANTS, EDITABLE, Actor, actions_from
from hub.accounts.models import Organisation, User

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# The trail's actions as the applicant reads them.
ACTIONS = {
    "create": gettext_lazy("Application started"),
    "submit": gettext_lazy("Submitted"),
    "screen": gettext_lazy("Screening started"),
    "request_information": gettext_lazy("More information requested"),
    "answer": gettext_lazy("Information provided"),
    "start_review": gettext_lazy("Review started"),
    "close_review": gettext_lazy("Review finished"),
    "approve": gettext_lazy("Approved"),
    "reject": gettext_lazy("Rejected"),
    "withdraw": gettext_lazy("Withdrawn"),
    "sign_agreement": gettext_lazy("Agreement signed"),
    "start_disbursing": gettext_lazy("Payments started"),
    "pay": gettext_lazy("Payment made"),
    "close": gettext_lazy("Closed"),
    "amend": gettext_lazy("Amended"),
}


def _user(request: HttpRequest) -> User:
    """The user of a view behind login_required."""
    return cast(User, request.user)


# --- calls -----------------------------------------------------------------------------------------
def _open_calls() -> QuerySet[Call]:
    now = timezone.now()
    return Call.objects.filter(status=Call.Status.PUBLISHED, opens_at__lte=now, closes_at__gt=now).select_related(
        "fund"
    )


def call_list(request: HttpRequest) -> HttpResponse:
    """The calls open for applications now, closing soonest first."""
    return render(request, "funds/call_list.html", {"calls": _open_calls().order_by("closes_at", "id")})


def _eligible_organisations(user: Any, call: Call) -> QuerySet[Organisation]:
    """The user's organisations the call admits by kind and region."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    organisations = Organisation.objects.filter(memberships__user=user).distinct().order_by("name")
    if call.eligible_kinds:
        organisations = organisations.filter(kind__in=call.eligible_kinds)
    if call.eligible_regions:
        organisations = organisations.filter(region__in=call.eligible_regions)
    return organisations


def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A published call: its terms, who may apply, and the start of an application for those who may."""
    call = get_object_or_404(Call.objects.select_related("fund"), pk=pk, status=Call.Status.PUBLISHED)
    organisations = _eligible_organisations(request.user, call)
    form = StartForm(organisations=organisations) if organisations.exists() and call.is_open() else None
    return _call_page(request, call, form)


def _call_page(request: HttpRequest, call: Call, form: StartForm | None, status: int = 200) -> HttpResponse:
    kinds = dict(Organisation.Kind.choices)
    return render(
        request,
        "funds/call_detail.html",
        {
            "call": call,
            "form": form,
            "eligible_kinds": [kinds.get(kind, kind) for kind in call.eligible_kinds],
            "open": call.is_open(),
            "mine": selectors.applications_of(user=request.user).filter(call=call),
        },
        status=status,
    )


@login_required
@require_POST
def call_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a draft application (application_create) and go to the form's first step."""
    call = get_object_or_404(Call.objects.select_related("fund"), pk=pk, status=Call.Status.PUBLISHED)
    organisations = _eligible_organisations(request.user, call)
    form = StartForm(request.POST, organisations=organisations)
    if form.is_valid():
        try:
            application = services.application_create(
                call=call,
                organisation=form.cleaned_data["organisation"],
                by=_user(request),
                title=form.cleaned_data["title"],
                requested_amount=form.cleaned_data["requested_amount"],
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            return redirect("funds:step", pk=application.pk, step=1)
    return _call_page(request, call, form, status=400)


# --- the applicant's application ---------------------------------------------------------------
def _own(request: HttpRequest, pk: int) -> Application:
    """The application, for its applicant and co-applicants only (a 404 for anyone else)."""
    application = get_object_or_404(Application.objects.select_related("call__fund", "organisation"), pk=pk)
    if not selectors.actors_of(user=request.user, application=application) & APPLICANTS:
        raise Http404
    return application


def _version(application: Application, *, editing: bool = False) -> FormVersion | None:
    """The version its answers are read on; when editing, the call's current one (which a save moves
    the application to)."""
    number = application.call.form_version if editing else application.form_version
    return selectors.form_version_of(call=application.call, number=number)


def _editable(application: Application) -> bool:
    return application.status in EDITABLE and not application.locked


@login_required
def application_list(request: HttpRequest) -> HttpResponse:
    """The user's applications, drafts included."""
    return render(
        request, "funds/application_list.html", {"applications": selectors.applications_of(user=request.user)}
    )


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The application's status, timeline, answers, co-applicants and what the applicant may do next."""
    application = _own(request, pk)
    actors = selectors.actors_of(user=request.user, application=application)
    trail = list(selectors.application_trail(user=request.user, application=application).select_related("actor"))
    question = next((line.reason for line in reversed(trail) if line.action == "request_information"), "")
    return render(
        request,
        "funds/application_detail.html",
        {
            "application": application,
            "timeline": [
                {"line": line, "label": ACTIONS.get(line.action, line.action), "status": _status_label(line.to_status)}
                for line in trail
            ],
            "answers": _answer_rows(application, _version(application)),
            "editable": _editable(application),
            "question": question if application.status == Application.Status.MORE_INFORMATION else "",
            "may_withdraw": Actor.APPLICANT in actors and "withdraw" in actions_from(application.status),
            "co_form": _co_form(application) if _editable(application) else None,
            "co_applicants": application.co_applicants.order_by("username"),
        },
    )


def _status_label(status: str) -> str:
    return str(dict(Application.Status.choices).get(status, status))


def _answer_rows(application: Application, version: FormVersion | None) -> list[dict[str, Any]]:
    """The answers in the form's order, each with its question's label, as text a person reads."""
    if version is None:
        return []
    rows = []
    for spec in questions(version.fields):
        if spec["name"] not in application.answers:
            continue
        answer = application.answers[spec["name"]]
        rows.append(
            {
                "spec": spec,
                "label": in_language(spec, "label"),
                "value": _display(spec, answer),
                "attachment_id": answer.get("attachment") if spec["type"] == "file" else None,
            }
        )
    return rows


def _display(spec: Mapping[str, Any], value: Any) -> Any:
    kind = spec["type"]
    labels = {choice["value"]: in_language(choice, "label") for choice in spec.get("choices", [])}
    if kind == "choice":
        return labels.get(value, value)
    if kind == "multi_choice":
        return "、".join(labels.get(item, item) for item in value)
    if kind == "declaration":
        return _("Yes") if value else _("No")
    if kind == "money":
        return f"¥{value}"
    if kind == "file":
        return value.get("name", "")
    if kind == "table":
        return {
            "columns": [in_language(column, "label") for column in spec["columns"]],
            "rows": [[row.get(column["name"], "") for column in spec["columns"]] for row in value.get("rows", [])],
            "totals": [value.get("totals", {}).get(column["name"], "") for column in spec["columns"]],
        }
    return value


def _co_form(application: Application, data: Any = None) -> CoApplicantsForm:
    """Co-applicants are chosen among the other members of the applicant organisation."""
    members = User.objects.filter(memberships__organisation=application.organisation).exclude(
        pk=application.created_by_id
    )
    return CoApplicantsForm(
        data,
        members=members.distinct().order_by("username"),
        initial={"co_applicants": list(application.co_applicants.all())},
    )


@login_required
@require_POST
def application_co_applicants(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the co-applicants (members of the applicant organisation) of an editable application."""
    application = _own(request, pk)
    form = _co_form(application, request.POST)
    if form.is_valid():
        try:
            services.application_update(
                application=application, by=_user(request), fields={}, co_applicants=form.cleaned_data["co_applicants"]
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            return redirect("funds:application", pk=pk)
    return render(request, "funds/co_applicants.html", {"application": application, "form": form}, status=400)


# --- the multi-step form ---------------------------------------------------------------------
def _steps_of(application: Application) -> tuple[FormVersion | None, list[Step]]:
    version = _version(application, editing=True)
    return version, steps(version.fields) if version else []


def _step_form(request: HttpRequest, application: Application, step: Step) -> StepForm:
    initial = {
        name: value for name, value in application.answers.items() if not isinstance(value, Mapping) or "rows" in value
    }
    if request.method == "POST":
        return StepForm(request.POST, request.FILES, questions=step.fields, initial=initial)
    return StepForm(questions=step.fields, initial=initial)


def _save_step(request: HttpRequest, application: Application, form: StepForm, version: FormVersion) -> Refused | None:
    """Save this step's answers over the stored ones (answers to questions the version no longer has are
    left behind); the refusal, if any."""
    names = {spec["name"] for spec in questions(version.fields)}
    kept = {name: value for name, value in application.answers.items() if name in names}
    try:
        services.application_update(
            application=application,
            by=_user(request),
            fields={"answers": {**kept, **form.answers()}},
            files=form.uploads(),
        )
    except Refused as refusal:
        return refusal
    return None


@login_required
def application_step(request: HttpRequest, pk: int, step: int) -> HttpResponse:
    """One step of the form. Buttons: save draft (stay), previous, next; after the last step comes the
    check before submitting."""
    application = _own(request, pk)
    if not _editable(application):
        return redirect("funds:application", pk=pk)
    version, all_steps = _steps_of(application)
    if version is None:
        return redirect("funds:review", pk=pk)
    if not 1 <= step <= len(all_steps):
        raise Http404
    current = all_steps[step - 1]
    form = _step_form(request, application, current)
    status = 200
    if request.method == "POST":
        refusal = _save_step(request, application, form, version)
        if refusal is None:
            action = request.POST.get("action", "draft")
            if action == "next":
                return (
                    redirect("funds:step", pk=pk, step=step + 1)
                    if step < len(all_steps)
                    else redirect("funds:review", pk=pk)
                )
            if action == "previous" and step > 1:
                return redirect("funds:step", pk=pk, step=step - 1)
            return redirect(f"{reverse('funds:step', args=[pk, step])}?saved=1")
        form.show_errors(refusal)
        status = 400
    application.refresh_from_db()
    return render(
        request,
        "funds/application_step.html",
        {
            "application": application,
            "form": form,
            "step": current,
            "number": step,
            "steps": [{"number": i, "title": _step_title(s)} for i, s in enumerate(all_steps, 1)],
            "title": _step_title(current),
            "help": in_language(vars(current), "help"),
            "questions": _question_rows(form, application, current),
            "last": step == len(all_steps),
            "saved": request.GET.get("saved") == "1",
        },
        status=status,
    )


def _step_title(step: Step) -> str:
    """A step's title in the reader's language (questions before any section break have none)."""
    return in_language(vars(step), "title") or _("Questions")


def _question_rows(form: StepForm, application: Application, step: Step) -> list[dict[str, Any]]:
    """Each question with how its show-if is kept: by funds.js when it depends on a question of this
    step, else decided here from the stored answers."""
    here = {spec["name"] for spec in step.fields}
    stored = selectors.stored_files(application=application)
    rows = []
    for bound, spec in form.specs():
        condition = spec.get("show_if")
        live = bool(condition and condition["field"] in here)
        hidden = bool(condition) and not live and not shown(spec, application.answers)
        if live and condition:
            given = form.answers() if form.is_bound else application.answers
            hidden = not shown(spec, {condition["field"]: given.get(condition["field"])})
        rows.append({"field": bound, "spec": spec, "live": live, "hidden": hidden, "stored": stored.get(spec["name"])})
    return rows


@login_required
@require_POST
def application_autosave(request: HttpRequest, pk: int, step: int) -> JsonResponse:
    """Save one step as a draft and answer in JSON (hub/scenarios' autosave.js posts here); files are
    never autosaved."""
    try:
        application = _own(request, pk)
    except Http404:
        return JsonResponse({"saved": False, "message": _("Not found."), "errors": {}}, status=404)
    version, all_steps = _steps_of(application)
    if not _editable(application) or version is None or not 1 <= step <= len(all_steps):
        return JsonResponse(
            {"saved": False, "message": _("This application can no longer be changed."), "errors": {}}, status=409
        )
    form = StepForm(request.POST, questions=all_steps[step - 1].fields)
    refusal = _save_step(request, application, form, version)
    if refusal is not None:
        first = next(iter(refusal.errors.values()), [refusal.message])[0]
        return JsonResponse(
            {"saved": False, "message": _("Draft not saved: %(reason)s") % {"reason": first}, "errors": refusal.errors},
            status=400,
        )
    saved_at = date_format(timezone.localtime(), "H:i")
    return JsonResponse(
        {"saved": True, "id": pk, "saved_at": saved_at, "message": _("Draft saved at %(time)s") % {"time": saved_at}}
    )


@login_required
def application_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The check before submitting: what is still missing (each linked to its step), the answers, and the
    submit button (or, when more information was asked for, the button that sends the answers back)."""
    application = _own(request, pk)
    if not _editable(application):
        return redirect("funds:application", pk=pk)
    error = ""
    if request.method == "POST":
        try:
            if application.status == Application.Status.MORE_INFORMATION:
                services.application_answer(
                    application=application, by=_user(request), reason=request.POST.get("note", "")
                )
                return redirect("funds:application", pk=pk)
            services.application_submit(application=application, by=_user(request))
            return redirect("funds:receipt", pk=pk)
        except Refused as refusal:
            error = refusal.message
        application.refresh_from_db()
    version = _version(application)
    problems = selectors.answers_problems(application=application)
    return render(
        request,
        "funds/application_review.html",
        {
            "application": application,
            "problems": _problem_rows(version, problems),
            "answers": _answer_rows(application, version),
            "error": error,
            "answering": application.status == Application.Status.MORE_INFORMATION,
        },
        status=400 if error else 200,
    )


def _problem_rows(version: FormVersion | None, problems: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    if version is None:
        return [{"label": name, "messages": messages, "step": 1} for name, messages in problems.items()]
    where = {
        spec["name"]: (number, spec) for number, step in enumerate(steps(version.fields), 1) for spec in step.fields
    }
    rows = []
    for name, messages in problems.items():
        number, spec = where.get(name, (1, {"label": name}))
        rows.append({"name": name, "label": in_language(spec, "label"), "messages": messages, "step": number})
    return sorted(rows, key=lambda row: row["step"])


# --- receipt, withdraw, files ------------------------------------------------------------------
def _submitted(request: HttpRequest, pk: int) -> Application:
    application = _own(request, pk)
    if application.submitted_at is None:
        raise Http404
    return application


def reference(application: Application) -> str:
    """The receipt's reference: the call and the application, both numbered."""
    return f"WZF-{application.call_id:04d}-{application.pk:06d}"


@login_required
def application_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable receipt of the submitted application."""
    application = _submitted(request, pk)
    return render(
        request,
        "funds/receipt.html",
        {
            "application": application,
            "reference": reference(application),
            "answers": _answer_rows(application, _version(application)),
            "pdf": CJK_FONT.exists(),
        },
    )


@login_required
def application_receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The receipt as a PDF (needs the CJK font; without it, the printable page)."""
    application = _submitted(request, pk)
    if not CJK_FONT.exists():
        return redirect("funds:receipt", pk=pk)
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("cjk", fname=str(CJK_FONT))
    pdf.set_font("cjk", size=16)
    pdf.multi_cell(0, 10, _("Application receipt"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    lines = [
        (_("Reference"), reference(application)),
        (_("Call"), application.call.title),
        (_("Applicant"), application.organisation.name),
        (_("Project title"), application.title),
        (_("Amount requested (CNY)"), f"¥{application.requested_amount}"),
        (_("Submitted"), date_format(timezone.localtime(application.submitted_at), "Y-m-d H:i")),
    ]
    for row in _answer_rows(application, _version(application)):
        value = row["value"]
        if isinstance(value, dict):  # a table: its rows, then the totals
            value = "\n".join(" | ".join(cells) for cells in [*value["rows"], value["totals"]])
        lines.append((row["label"], str(value)))
    for label, value in lines:
        pdf.multi_cell(0, 7, f"{label}: {value}", new_x="LMARGIN", new_y="NEXT")
    response = HttpResponse(bytes(pdf.output()), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{reference(application)}.pdf"'
    return response


@login_required
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw, after a confirmation; only the applicant who started it may."""
    application = _own(request, pk)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_withdraw(
                application=application, by=_user(request), reason=form.cleaned_data["reason"]
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            return redirect("funds:application", pk=pk)
    return render(
        request, "funds/withdraw.html", {"application": application, "form": form}, status=400 if form.errors else 200
    )


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    """An attachment of the application, for its applicants only (private storage has no public URL)."""
    application = _own(request, pk)
    attachment = get_object_or_404(Attachment, pk=attachment_id, application=application)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name)

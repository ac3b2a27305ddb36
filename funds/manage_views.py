"""The fund managers' and reviewers' pages: the funds and calls a manager runs (draft calls, rubric, pool,
publishing), each call's dashboard with its bulk actions and exports, an application's page for its
managers (screening, review, decisions, amendments, tranches, milestone reports, payments), and the
reviewers' assignments and rubric.

Who gets in follows the services' matrix (funds.selectors.actors_of): a call's pages are its fund's
managers' only, an application's manager page its non-conflicted managers', a reviewer's page their own
active, non-conflicted assignment's; anyone else signed in gets a 404 (nobody learns an application
exists), anonymous visitors are sent to sign in. Every write is a service call; its refusal is shown on
the form that asked for it, and NotPermitted is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from funds import exports, selectors, services
from funds.manage_forms import (
    AmendForm,
    ApproveForm,
    BaseRubricFormSet,
    BulkForm,
    CallForm,
    DashboardFilterForm,
    PayForm,
    PoolForm,
    ReasonForm,
    ReportReviewForm,
    ReviewerChoiceForm,
    ReviewForm,
    RubricFormSet,
    StepForm,
    TrancheFormSet,
    UnassignForm,
    rubric_initial,
)
from funds.models import Application, Call, Fund, MilestoneReport, ReviewAssignment, Tranche
from funds.services import NotPermitted, Refused
from funds.workflow import Actor, actions_from
from hub.accounts.models import User

PAGE_SIZE = 25
STEPS: dict[str, Callable[..., Application]] = {
    "screen": services.application_screen,
    "start_review": services.application_start_review,
    "close_review": services.application_close_review,
    "sign_agreement": services.application_sign_agreement,
    "close": services.application_close,
}
# Module-level, so lazy: translated in the language of the request that shows them.
STEP_DONE = {
    "screen": gettext_lazy("Taken into screening."),
    "start_review": gettext_lazy("Sent to review."),
    "close_review": gettext_lazy("The review is closed; a decision is pending."),
    "sign_agreement": gettext_lazy("The agreement is recorded."),
    "close": gettext_lazy("The grant is closed."),
}


def _user(request: HttpRequest) -> User:
    """The user of a view behind login_required."""
    return cast(User, request.user)


def _posted(request: HttpRequest, action: str, name: str) -> Any:
    """The POST data for the form `name` when it is the one posted, else None (an unbound form)."""
    return request.POST if action == name else None


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if ok and target.startswith("/") else default


def _managed_fund(request: HttpRequest, fund_id: int) -> Fund:
    fund = selectors.managed_funds(user=request.user).filter(pk=fund_id).first()
    if fund is None:
        raise Http404(_("No such fund."))
    return fund


def _managed_call(request: HttpRequest, call_id: int) -> Call:
    call = Call.objects.select_related("fund").filter(pk=call_id).first()
    if call is None or not selectors.is_manager(user=request.user, fund=call.fund):
        raise Http404(_("No such call."))
    return call


def _managed_application(request: HttpRequest, application_id: int) -> Application:
    """The application if the user manages it (not conflicted); drafts are the applicants' own."""
    application = (
        Application.objects.select_related("call__fund", "organisation", "created_by")
        .exclude(status=Application.Status.DRAFT)
        .filter(pk=application_id)
        .first()
    )
    if application is None or Actor.MANAGER not in selectors.actors_of(user=request.user, application=application):
        raise Http404(_("No such application."))
    return application


# --- funds and calls -------------------------------------------------------------------------------
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The funds the user manages with their calls, and a link to their review assignments."""
    funds = list(
        selectors.managed_funds(user=request.user).prefetch_related(
            Prefetch("calls", queryset=Call.objects.order_by("-opens_at", "-id"))
        )
    )
    if not funds:
        raise PermissionDenied(_("Only fund managers may see this page."))
    return render(request, "funds/manage/home.html", {"funds": funds})


@login_required
def call_create(request: HttpRequest, fund_id: int) -> HttpResponse:
    fund = _managed_fund(request, fund_id)
    form = CallForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            call = services.call_create(fund=fund, by=_user(request), fields=form.service_fields())
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _("The draft call is saved. Give it a rubric and reviewers, then publish it."))
            return redirect("funds_manage:call", call_id=call.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "funds/manage/call_create.html", {"fund": fund, "form": form}, status=status)


@login_required
def call_edit(request: HttpRequest, call_id: int) -> HttpResponse:
    """A call's terms, rubric and pool (the terms and rubric while it is a draft), and publishing: one
    form each, told apart by the `action` they post."""
    call = _managed_call(request, call_id)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = CallForm(_posted(request, action, "terms"), instance=call)
    rubric = cast(
        BaseRubricFormSet,
        RubricFormSet(_posted(request, action, "rubric"), initial=rubric_initial(call), prefix="rubric"),
    )
    pool = PoolForm(_posted(request, action, "pool"), initial={"pool": PoolForm.initial_for(call)})
    publish = StepForm({} if action == "publish" else None)
    by = _user(request)
    try:
        if action == "terms" and form.is_valid():
            services.call_update(call=call, by=by, fields=form.service_fields())
            messages.success(request, _("Saved."))
            return redirect("funds_manage:call", call_id=call.pk)
        if action == "rubric" and rubric.is_valid():
            services.call_set_rubric(call=call, by=by, criteria=rubric.criteria())
            messages.success(request, _("The rubric is saved."))
            return redirect("funds_manage:call", call_id=call.pk)
        if action == "pool" and pool.is_valid():
            services.call_set_pool(call=call, by=by, reviewers=pool.cleaned_data["pool"])
            messages.success(request, _("The reviewer pool is saved."))
            return redirect("funds_manage:call", call_id=call.pk)
        if action == "publish" and publish.is_valid():
            services.call_publish(call=call, by=by)
            messages.success(request, _("Published: applicants can now apply while the call is open."))
            return redirect("funds_manage:call", call_id=call.pk)
    except Refused as refusal:
        shown: dict[str, Any] = {"rubric": rubric, "pool": pool, "publish": publish}
        shown.get(action, form).add_refusal(refusal)
    context = {
        "call": call,
        "form": form,
        "rubric": rubric,
        "pool": pool,
        "publish": publish,
        "criteria": list(call.criteria.all()),
        "draft": call.status == Call.Status.DRAFT,
    }
    return render(request, "funds/manage/call_edit.html", context, status=400 if request.method == "POST" else 200)


# --- the dashboard -------------------------------------------------------------------------------
@login_required
def dashboard(request: HttpRequest, call_id: int) -> HttpResponse:
    """A call's queue by stage with ageing, scores and outliers, its budget, filters, pages and bulk
    actions; a constant number of queries whatever the number of applications."""
    call = _managed_call(request, call_id)
    filter_form = DashboardFilterForm(request.GET)
    asked = request.GET.get("page", "1")
    number = int(asked) if asked.isdigit() and int(asked) > 0 else 1
    board = selectors.call_dashboard(
        user=request.user, call=call, filters=filter_form.filters(), page=number, size=PAGE_SIZE
    )
    # The selector counted and sliced; the paginator only does the arithmetic for the pager.
    paginator: Paginator[Any] = Paginator(range(board.count), PAGE_SIZE)
    page: Page[Any] = Page(board.rows, number, paginator)
    stage_labels = dict(Application.Status.choices)
    context = {
        "call": call,
        "board": board,
        "stages": [(status, stage_labels[status], n) for status, n in sorted(board.stages.items())],
        "page_obj": page,
        "filters": filter_form,
        "bulk": BulkForm(),
        "export_query": request.GET.urlencode(),
    }
    return render(request, "funds/manage/dashboard.html", context)


@login_required
@require_POST
def bulk(request: HttpRequest, call_id: int) -> HttpResponse:
    """Screen or send to review the ticked applications (each one its own step: one refused leaves the
    others done, and says why), or assign reviewers automatically across the call."""
    call = _managed_call(request, call_id)
    back = _back(request, reverse("funds_manage:dashboard", kwargs={"call_id": call.pk}))
    form = BulkForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("__all__", []) or [_("Choose an action.")]:
            messages.error(request, str(error))
        return redirect(back)
    by = _user(request)
    action = form.cleaned_data["action"]
    if action == "assign":
        try:
            result = services.review_assign_automatically(call=call, by=by)
        except NotPermitted as refusal:
            raise PermissionDenied(str(refusal)) from None
        messages.success(request, _("%(n)d reviewers assigned.") % {"n": len(result.assigned)})
        if result.short:
            messages.warning(
                request,
                _("The pool had too few reviewers without a conflict and with the expertise for: %(ids)s")
                % {"ids": ", ".join(f"#{pk}" for pk in sorted(result.short))},
            )
        return redirect(back)
    done = 0
    for application in Application.objects.filter(call=call, pk__in=form.cleaned_data["applications"]):
        try:
            STEPS[action](application=application, by=by)
            done += 1
        except (Refused, NotPermitted) as refusal:
            messages.error(request, f"#{application.pk} {application.title}: {refusal}")
    messages.success(request, _("%(n)d applications moved on.") % {"n": done})
    return redirect(back)


@login_required
def export(request: HttpRequest, call_id: int, fmt: str) -> HttpResponseBase:
    """The dashboard's filtered queue, every page of it, as CSV or XLSX."""
    call = _managed_call(request, call_id)
    fence = selectors.spread_fence(call=call)
    queue = selectors.dashboard_queue(
        user=request.user, call=call, filters=DashboardFilterForm(request.GET).filters(), fence=fence
    )
    rows = exports.queue_rows(queue, fence=fence)
    name = f"call-{call.pk}-{timezone.localdate():%Y%m%d}"
    if fmt == "csv":
        response: HttpResponseBase = StreamingHttpResponse(
            exports.csv_lines(rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(
            exports.xlsx_bytes(rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# --- one application, for its managers ---------------------------------------------------------------
@login_required
def application(request: HttpRequest, application_id: int) -> HttpResponse:
    """Everything a manager does to one application, one form per `action`: workflow steps, requests for
    information and decisions with reasons, assignments by hand, conflicts, amendments, the tranche plan,
    milestone reports and payments."""
    app = _managed_application(request, application_id)
    call = app.call
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms: dict[str, Any] = {
        "information_form": ReasonForm(_posted(request, action, "request_information"), prefix="info"),
        "reject_form": ReasonForm(_posted(request, action, "reject"), prefix="reject"),
        "approve_form": ApproveForm(
            _posted(request, action, "approve"), prefix="approve", initial={"amount": app.requested_amount}
        ),
        "assign_form": ReviewerChoiceForm(_posted(request, action, "assign"), call=call, prefix="assign"),
        "conflict_form": ReviewerChoiceForm(
            _posted(request, action, "conflict"), call=call, reason_required=True, prefix="conflict"
        ),
        "unassign_form": UnassignForm(_posted(request, action, "unassign"), prefix="unassign"),
        "amend_form": AmendForm(
            _posted(request, action, "amend"), prefix="amend", initial={"approved_amount": app.approved_amount}
        ),
        "plan_form": TrancheFormSet(_posted(request, action, "plan"), prefix="plan"),
        "report_form": ReportReviewForm(_posted(request, action, "report"), prefix="report"),
        "pay_form": PayForm(_posted(request, action, "pay"), prefix="pay"),
    }
    if request.method == "POST":
        done = _application_action(request, app, action, forms)
        if done:
            messages.success(request, done)
            return redirect("funds_manage:application", application_id=app.pk)
    view = selectors.application_view(user=request.user, application=app)
    assignments = list(app.assignments.select_related("reviewer", "review").order_by("assigned_at", "id"))
    tranches = list(
        Tranche.objects.filter(application=app)
        .select_related("payment")
        .prefetch_related(Prefetch("reports", queryset=MilestoneReport.objects.order_by("submitted_at", "id")))
        .order_by("position")
    )
    context = {
        "application": app,
        "call": call,
        "view": view,
        "actions": set(actions_from(app.status)),
        "assignments": assignments,
        "summary": selectors.score_summary(application=app),
        "criteria": list(call.criteria.all()),
        "trail": selectors.application_trail(user=request.user, application=app).select_related("actor"),
        "tranches": tranches,
        "english": get_language() == "en",
        **forms,
    }
    return render(request, "funds/manage/application.html", context, status=400 if request.method == "POST" else 200)


def _application_action(request: HttpRequest, app: Application, action: str, forms: dict[str, Any]) -> str | None:
    """Run the posted action through its service: what to tell the manager, or None when a form now
    carries the refusal or its own errors."""
    by = _user(request)
    target = {
        "request_information": "information_form",
        "reject": "reject_form",
        "approve": "approve_form",
        "assign": "assign_form",
        "conflict": "conflict_form",
        "unassign": "unassign_form",
        "amend": "amend_form",
        "plan": "plan_form",
        "report": "report_form",
        "pay": "pay_form",
    }.get(action)
    form = forms.get(target) if target else None
    try:
        if action in STEPS:
            STEPS[action](application=app, by=by)
            return str(STEP_DONE[action])
        if form is None:
            raise Http404(_("No such action."))
        if not form.is_valid():
            return None
        data = form.cleaned_data if target != "plan" else {}
        if action == "request_information":
            services.application_request_information(application=app, by=by, reason=data["reason"])
            return _("The applicant is asked for more information.")
        if action == "reject":
            services.application_reject(application=app, by=by, reason=data["reason"])
            return _("Rejected; the applicant will read the reason.")
        if action == "approve":
            services.application_approve(application=app, by=by, amount=data["amount"], reason=data["reason"])
            return _("Approved; the amount is committed against the budget.")
        if action == "assign":
            services.review_assign(application=app, reviewer=data["reviewer"], by=by)
            return _("The reviewer is assigned.")
        if action == "conflict":
            services.conflict_record(by=by, reviewer=data["reviewer"], reason=data["reason"], application=app)
            return _("The conflict is recorded; the reviewer's assignment, if any, is taken back.")
        if action == "unassign":
            assignment = get_object_or_404(ReviewAssignment, pk=data["assignment"], application=app)
            services.review_unassign(assignment=assignment, by=by, reason=data["reason"])
            return _("The assignment is taken back.")
        if action == "amend":
            services.application_amend(
                application=app, by=by, reason=data["reason"], approved_amount=data["approved_amount"]
            )
            return _("The amendment is recorded.")
        if action == "plan":
            services.tranches_plan(application=app, by=by, tranches=form.tranches())
            return _("The tranche plan is saved.")
        if action == "report":
            report = get_object_or_404(MilestoneReport, pk=data["report"], tranche__application=app)
            services.milestone_report_review(
                report=report, by=by, accept=data["decision"] == "accept", comment=data["comment"]
            )
            return _("The milestone report is reviewed.")
        if action == "pay":
            tranche = get_object_or_404(Tranche, pk=data["tranche"], application=app)
            services.tranche_pay(tranche=tranche, by=by, reference=data["reference"])
            return _("The payment is recorded.")
    except NotPermitted as refusal:
        raise PermissionDenied(str(refusal)) from None
    except Refused as refusal:
        if form is None:
            messages.error(request, refusal.message)
        else:
            form.add_refusal(refusal)
    return None


# --- reviewers ---------------------------------------------------------------------------------------
@login_required
def assignments(request: HttpRequest) -> HttpResponse:
    """The reviewer's applications in review, oldest assignment first, with whether they have reviewed."""
    mine = selectors.assignments_of(reviewer=request.user).select_related("application__call", "review")
    page = Paginator(mine, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "funds/manage/assignments.html", {"page_obj": page})


@login_required
def review(request: HttpRequest, application_id: int) -> HttpResponse:
    """One assigned application as its reviewer may see it (blind calls without who applied), the rubric
    until the review is in, then everyone's reviews; and declaring a conflict. A 404 for anyone but its
    active, non-conflicted reviewers."""
    app = get_object_or_404(Application.objects.select_related("call", "organisation"), pk=application_id)
    assignment = selectors.active_assignment(user=request.user, application=app)
    if assignment is None or Actor.REVIEWER not in selectors.actors_of(user=request.user, application=app):
        raise Http404(_("No such application."))
    view = selectors.application_view(user=request.user, application=app)
    criteria = list(app.call.criteria.all())
    english = get_language() == "en"
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = ReviewForm(_posted(request, action, "review"), criteria=criteria, english=english)
    conflict_form = ReasonForm(_posted(request, action, "conflict"), prefix="conflict")
    by = _user(request)
    try:
        if action == "review" and form.is_valid():
            services.review_submit(
                assignment=assignment, by=by, scores=form.scores(), comment=form.cleaned_data["comment"]
            )
            messages.success(request, _("Your review is submitted."))
            return redirect("funds_manage:review", application_id=app.pk)
        if action == "conflict" and conflict_form.is_valid():
            services.conflict_declare(by=by, reason=conflict_form.cleaned_data["reason"], application=app)
            messages.success(
                request, _("Your conflict of interest is recorded; the application is taken off your list.")
            )
            return redirect("funds_manage:assignments")
    except NotPermitted as refusal:
        raise PermissionDenied(str(refusal)) from None
    except Refused as refusal:
        (conflict_form if action == "conflict" else form).add_refusal(refusal)
    reviews = selectors.reviews_visible(user=request.user, application=app)
    own = next((r for r in reviews if r.assignment.reviewer_id == by.pk), None)
    context = {
        "application": app,
        "view": view,
        "assignment": assignment,
        "form": form,
        "conflict_form": conflict_form,
        "criteria": criteria,
        "own": own,
        "others": [r for r in reviews if r is not own],
        "english": english,
    }
    return render(request, "funds/manage/review.html", context, status=400 if request.method == "POST" else 200)

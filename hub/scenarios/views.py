"""Pages of scenario calls: the public listing and detail, the publisher's desk, and the startup's proposals.

Visibility first (a scenario or proposal the user may not see is a 404), then permission (one they
may see but not act on is a 403, raised by the services as NotPermitted). Refusals the user can act
on become form errors or messages. Every action is a POST with its CSRF token.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from hub.accounts.models import Organisation
from hub.accounts.selectors import may_edit_profile
from hub.i18n import path_for_reader
from hub.scenarios import selectors, services
from hub.scenarios.forms import ProposalForm, ScenarioFilterForm, ScenarioForm
from hub.scenarios.models import MatchSuggestion, Proposal, Scenario
from hub.scenarios.services import Refused
from hub.search.matching import scenarios_for

PAGE_SIZE = 20


# --- public -----------------------------------------------------------------------------------
def scenario_list(request: HttpRequest) -> HttpResponse:
    """Published scenarios, filtered by sector, city and status through a plain GET form."""
    form = ScenarioFilterForm(request.GET or None, cities=selectors.scenario_cities())
    filters = form.filters() if form.is_bound else {}
    page = Paginator(selectors.scenarios_public(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "scenarios/scenario_list.html", {"form": form, "page_obj": page, "filtered": any(filters.values())}
    )


def scenario_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_object_or_404(selectors.scenarios_visible_to(user=request.user), pk=pk)
    startups = selectors.startup_organisations(user=request.user).exclude(pk=scenario.organisation_id)
    own = (
        Proposal.objects.filter(scenario=scenario, organisation__in=startups).exclude(status__in=Proposal.ENDED)
        if request.user.is_authenticated
        else Proposal.objects.none()
    )
    return render(
        request,
        "scenarios/scenario_detail.html",
        {
            "scenario": scenario,
            "is_publisher": selectors.is_publisher(user=request.user, scenario=scenario),
            "can_propose": scenario.accepts_proposals and startups.exists(),
            "own_proposals": list(own.select_related("organisation")),
        },
    )


# --- the publisher's desk ---------------------------------------------------------------------
@login_required
def scenario_manage(request: HttpRequest) -> HttpResponse:
    """The scenarios of the user's organisations, drafts included."""
    page = Paginator(selectors.scenarios_managed_by(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    mine = selectors.member_organisation_ids(user=request.user)
    rows = [
        {
            "scenario": scenario,
            # Staff see every scenario here, but act only for their own organisations.
            "can_act": scenario.organisation_id in mine,
            "next_statuses": [
                (value, label)
                for value, label in Scenario.Status.choices
                if value in services.TRANSITIONS.get(scenario.status, ())
            ],
        }
        for scenario in page.object_list
    ]
    return render(
        request,
        "scenarios/manage.html",
        {"page_obj": page, "rows": rows, "can_create": bool(mine)},
    )


@login_required
def scenario_create(request: HttpRequest) -> HttpResponse:
    organisations = selectors.publishing_organisations(user=request.user)
    if not organisations.exists():
        raise PermissionDenied(_("Only members of an organisation can publish scenarios."))
    form = ScenarioForm(request.POST or None, organisations=organisations)
    if request.method == "POST" and form.is_valid():
        try:
            scenario = services.scenario_create(
                organisation=form.cleaned_data["organisation"], by=request.user, fields=form.scenario_fields()
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            return _after_scenario_save(request, scenario, form)
    return _scenario_form(request, form, scenario=None)


@login_required
def scenario_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = _scenario_to_manage(request, pk)
    if scenario.status == Scenario.Status.WITHDRAWN:
        messages.error(request, _("A withdrawn scenario can no longer be changed."))
        return redirect("scenarios:manage")
    # A copy: the form writes into its instance, and the page's heading must show what is saved.
    form = ScenarioForm(request.POST or None, instance=copy.copy(scenario))
    if request.method == "POST" and form.is_valid():
        try:
            scenario = services.scenario_update(scenario=scenario, by=request.user, fields=form.scenario_fields())
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            return _after_scenario_save(request, scenario, form)
    return _scenario_form(request, form, scenario=scenario)


def _after_scenario_save(request: HttpRequest, scenario: Scenario, form: ScenarioForm) -> HttpResponse:
    """Saved; publish too if that was the button. A refused publish shows its reasons on the edit form."""
    if request.POST.get("action") == "publish" and not scenario.is_published:
        try:
            scenario = services.scenario_publish(scenario=scenario, by=request.user)
        except Refused as refusal:
            messages.warning(request, _("The draft is saved, but not published yet."))
            edit_form = ScenarioForm(request.POST, instance=copy.copy(scenario))
            edit_form.is_valid()
            edit_form.add_refusal(refusal)
            return _scenario_form(request, edit_form, scenario=scenario)
        messages.success(request, _("The scenario is published and open for proposals."))
        return redirect(scenario)
    if scenario.is_published:
        messages.success(request, _("Your changes are published."))
        return redirect(scenario)
    messages.success(request, _("Draft saved."))
    return redirect("scenarios:edit", pk=scenario.pk)


def _scenario_form(request: HttpRequest, form: ScenarioForm, *, scenario: Scenario | None) -> HttpResponse:
    autosave = scenario is None or not scenario.is_published
    return render(
        request,
        "scenarios/scenario_form.html",
        {
            "form": form,
            "scenario": scenario,
            "autosave_url": (
                (reverse("scenarios:edit_autosave", args=[scenario.pk]) if scenario else reverse("scenarios:autosave"))
                if autosave
                else ""
            ),
        },
    )


@login_required
@require_POST
def scenario_autosave(request: HttpRequest, pk: int | None = None) -> JsonResponse:
    """Save the scenario form as a draft and answer in JSON (autosave.js); a published scenario is
    never autosaved: its changes are public, so they wait for the publisher's button."""
    scenario = _scenario_to_manage(request, pk) if pk is not None else None
    if scenario is not None and scenario.is_published:
        return _autosave_refused(_("Published scenarios are saved with the “Save changes” button."), status=409)
    if scenario is None:
        organisations = selectors.publishing_organisations(user=request.user)
        if not organisations.exists():
            raise PermissionDenied
        form = ScenarioForm(request.POST, organisations=organisations)
    else:
        form = ScenarioForm(request.POST, instance=copy.copy(scenario))
    if not form.is_valid():
        return _autosave_invalid(form.errors)
    try:
        if scenario is None:
            scenario = services.scenario_create(
                organisation=form.cleaned_data["organisation"], by=request.user, fields=form.scenario_fields()
            )
        else:
            scenario = services.scenario_update(scenario=scenario, by=request.user, fields=form.scenario_fields())
    except Refused as refusal:
        return _autosave_invalid(refusal.errors, message=refusal.message)
    return _autosave_saved(
        scenario.pk,
        edit_url=reverse("scenarios:edit", args=[scenario.pk]),
        autosave_url=reverse("scenarios:edit_autosave", args=[scenario.pk]),
    )


@login_required
@require_POST
def scenario_publish(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = _scenario_to_manage(request, pk)
    try:
        scenario = services.scenario_publish(scenario=scenario, by=request.user)
    except Refused as refusal:
        messages.error(request, _refusal_text(refusal, Scenario))
        return redirect("scenarios:edit", pk=scenario.pk)
    messages.success(request, _("The scenario is published and open for proposals."))
    return redirect(scenario)


@login_required
@require_POST
def scenario_set_status(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = _scenario_to_manage(request, pk)
    try:
        services.scenario_set_status(scenario=scenario, by=request.user, status=request.POST.get("status", ""))
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("The status is changed."))
    return redirect("scenarios:manage")


@login_required
@require_POST
def scenario_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = _scenario_to_manage(request, pk)
    try:
        services.scenario_withdraw(scenario=scenario, by=request.user)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("The scenario is withdrawn; the public no longer sees it."))
    return redirect("scenarios:manage")


@login_required
def scenario_proposals(request: HttpRequest, pk: int) -> HttpResponse:
    """What startups sent to one scenario, with the publisher's decisions."""
    scenario = get_object_or_404(selectors.scenarios_visible_to(user=request.user), pk=pk)
    is_publisher = selectors.is_publisher(user=request.user, scenario=scenario)
    if not (is_publisher or request.user.is_staff):
        raise PermissionDenied(_("Only the publishing organisation sees the proposals it received."))
    return render(
        request,
        "scenarios/scenario_proposals.html",
        {
            "scenario": scenario,
            "rows": [
                {"proposal": proposal, "decisions": decision_buttons(proposal) if is_publisher else []}
                for proposal in selectors.proposals_received(scenario=scenario)
            ],
            "suggestions": _suggestion_rows(selectors.match_suggestions(scenario=scenario)),
        },
    )


def _suggestion_rows(suggestions: list[MatchSuggestion]) -> list[dict[str, Any]]:
    """Suggested startups with their fit relative to the best one (100), for a bar: raw scores mean
    nothing to a reader."""
    best = max((suggestion.score for suggestion in suggestions), default=0.0)
    return [
        {
            "organisation": suggestion.organisation,
            "percent": round(100 * suggestion.score / best) if best > 0 else 0,
        }
        for suggestion in suggestions
    ]


def _scenario_to_manage(request: HttpRequest, pk: int) -> Scenario:
    """404 if the user may not see it; 403 if they see it but do not publish it."""
    scenario = get_object_or_404(selectors.scenarios_visible_to(user=request.user), pk=pk)
    if not selectors.is_publisher(user=request.user, scenario=scenario):
        raise PermissionDenied(_("Only members of the publishing organisation may do this."))
    return scenario


# --- proposals --------------------------------------------------------------------------------
@login_required
def proposal_form(request: HttpRequest, pk: int) -> HttpResponse:
    """The startup's proposal to a scenario: the same page creates the draft, edits it and sends it."""
    scenario, startups, organisation = _proposal_context(request, pk)
    proposal = selectors.live_proposal(scenario=scenario, organisation=organisation)
    if proposal is not None and proposal.status != Proposal.Status.DRAFT:
        messages.info(request, _("Your organisation has already sent a proposal to this scenario."))
        return redirect(proposal)
    if not scenario.accepts_proposals:
        messages.error(request, _("This scenario is not taking proposals."))
        return redirect(scenario)
    form = ProposalForm(request.POST or None, request.FILES or None, instance=proposal, organisations=startups)
    if request.method == "POST" and form.is_valid():
        saved: Proposal | None = None
        try:
            saved = services.proposal_save_draft(
                scenario=scenario,
                organisation=form.cleaned_data["organisation"],
                by=request.user,
                fields=form.proposal_fields(),
                attachments=form.cleaned_data["attachments"],
                remove_attachments=form.cleaned_data.get("remove_attachments") or [],
            )
            if request.POST.get("action") == "submit":
                saved = services.proposal_submit(proposal=saved, by=request.user)
                messages.success(request, _("Your proposal is sent. The publisher is told."))
                return redirect(saved)
        except Refused as refusal:
            if saved is not None:  # the draft is kept; only sending it was refused
                messages.warning(request, _("The draft is saved, but not sent yet."))
                form = _proposal_form_again(request, saved, startups)
            form.add_refusal(refusal)
        else:
            messages.success(request, _("Draft saved."))
            return redirect(_propose_url(scenario, saved.organisation))
    return render(
        request,
        "scenarios/proposal_form.html",
        {
            "scenario": scenario,
            "form": form,
            "proposal": form.instance if form.instance.pk else None,
            "organisation": organisation,
            "autosave_url": _propose_url(scenario, organisation, autosave=True),
        },
    )


def _proposal_form_again(request: HttpRequest, proposal: Proposal, startups: QuerySet[Organisation]) -> ProposalForm:
    """The form for the draft as saved: files are stored now, and removed ones are gone from the choices."""
    data: QueryDict = request.POST.copy()
    data.pop("remove_attachments", None)
    form = ProposalForm(data, instance=proposal, organisations=startups)
    form.is_valid()
    return form


@login_required
@require_POST
def proposal_autosave(request: HttpRequest, pk: int) -> JsonResponse:
    """Save the proposal form as a draft and answer in JSON (autosave.js). Files are never autosaved:
    they are added and removed with the form's buttons only."""
    scenario, startups, organisation = _proposal_context(request, pk)
    proposal = selectors.live_proposal(scenario=scenario, organisation=organisation)
    if proposal is not None and proposal.status != Proposal.Status.DRAFT:
        return _autosave_refused(_("Your organisation has already sent a proposal to this scenario."), status=409)
    form = ProposalForm(request.POST, instance=proposal, organisations=startups)
    if not form.is_valid():
        return _autosave_invalid(form.errors)
    try:
        saved = services.proposal_save_draft(
            scenario=scenario,
            organisation=form.cleaned_data["organisation"],
            by=request.user,
            fields=form.proposal_fields(),
        )
    except Refused as refusal:
        return _autosave_invalid(refusal.errors, message=refusal.message, status=409 if not refusal.errors else 400)
    url = _propose_url(scenario, saved.organisation)
    return _autosave_saved(
        saved.pk, edit_url=url, autosave_url=_propose_url(scenario, saved.organisation, autosave=True)
    )


def _proposal_context(request: HttpRequest, pk: int) -> tuple[Scenario, QuerySet[Organisation], Organisation]:
    """The scenario (404 if not visible), the user's startups (403 if none) and the one acting now."""
    scenario = get_object_or_404(selectors.scenarios_visible_to(user=request.user), pk=pk)
    startups = selectors.startup_organisations(user=request.user).exclude(pk=scenario.organisation_id)
    if not startups.exists():
        raise PermissionDenied(_("Only members of a startup can send proposals."))
    chosen = request.POST.get("organisation") or request.GET.get("organisation") or ""
    organisation = startups.filter(pk=int(chosen)).first() if chosen.isdigit() else None
    return scenario, startups, organisation or startups.first()  # type: ignore[return-value]


def _propose_url(scenario: Scenario, organisation: Organisation, *, autosave: bool = False) -> str:
    url = reverse("scenarios:propose_autosave" if autosave else "scenarios:propose", args=[scenario.pk])
    return f"{url}?organisation={organisation.pk}"


MAX_STARTUPS_MATCHED = 3  # startups of one user whose fitting scenarios a page asks search for


@login_required
def proposal_list(request: HttpRequest) -> HttpResponse:
    """My organisations' proposals, drafts included; and the open scenarios that fit each startup."""
    page = Paginator(selectors.proposals_of(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "scenarios/proposal_list.html",
        {"page_obj": page, "withdrawable": services.WITHDRAWABLE, "fits": _scenarios_for_you(request)},
    )


def _scenarios_for_you(request: HttpRequest) -> list[dict[str, Any]]:
    """For each of the user's startups, the open scenarios that fit its profile now (asked live; none
    when search is down, which matching logs)."""
    english = (translation.get_language() or "").startswith("en")
    fits = []
    for organisation in selectors.startup_organisations(user=request.user)[:MAX_STARTUPS_MATCHED]:
        matches = scenarios_for(organisation_id=organisation.pk)
        fits.append(
            {
                "organisation": organisation,
                "may_edit": may_edit_profile(user=request.user, organisation=organisation),
                "scenarios": [
                    {
                        "title": match.title_en if english and match.title_en else match.title,
                        "lang": "en" if english and match.title_en else "zh-Hans",
                        "url": path_for_reader(match.url),
                    }
                    for match in matches
                ],
            }
        )
    return fits


@login_required
def proposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(selectors.proposals_visible_to(user=request.user), pk=pk)
    is_sender = selectors.is_member(user=request.user, organisation_id=proposal.organisation_id)
    is_publisher = selectors.is_publisher(user=request.user, scenario=proposal.scenario)
    return render(
        request,
        "scenarios/proposal_detail.html",
        {
            "proposal": proposal,
            "scenario": proposal.scenario,
            "attachments": proposal.attachments.all(),
            "is_sender": is_sender,
            "can_edit": is_sender and proposal.status == Proposal.Status.DRAFT and proposal.scenario.accepts_proposals,
            "can_withdraw": is_sender and proposal.status in services.WITHDRAWABLE,
            "decisions": decision_buttons(proposal) if is_publisher else [],
        },
    )


@dataclass(frozen=True)
class Decision:
    """A publisher's button on a proposal: what it says, what it warns, what it reports when done."""

    service: Callable[..., Proposal]
    label: Promise
    confirm: Promise
    done: Promise


DECISIONS = {
    "shortlist": Decision(
        services.proposal_shortlist,
        gettext_lazy("Shortlist"),
        gettext_lazy("The startup is told that its proposal is on your shortlist."),
        gettext_lazy("The proposal is shortlisted; the startup is told."),
    ),
    "decline": Decision(
        services.proposal_decline,
        gettext_lazy("Decline"),
        gettext_lazy("The startup is told that its proposal is declined. This cannot be undone."),
        gettext_lazy("The proposal is declined; the startup is told."),
    ),
    "award": Decision(
        services.proposal_award,
        gettext_lazy("Award"),
        gettext_lazy(
            "The startup is told that it won, and the scenario is marked awarded for everyone. This cannot be undone."
        ),
        gettext_lazy("The proposal is awarded and the scenario marked awarded."),
    ),
}


def decision_buttons(proposal: Proposal) -> list[dict[str, Any]]:
    """The decisions possible on a proposal now, ready for scenarios/_decisions.html."""
    return [
        {
            "action": action,
            "url": reverse(f"scenarios:proposal_{action}", args=[proposal.pk]),
            "label": DECISIONS[action].label,
            "confirm": DECISIONS[action].confirm,
        }
        for action in services.proposal_decisions(proposal=proposal)
    ]


@login_required
@require_POST
def proposal_decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Shortlist, decline or award (the publisher's buttons)."""
    proposal = get_object_or_404(selectors.proposals_visible_to(user=request.user), pk=pk)
    decision = DECISIONS[action]
    try:
        decision.service(proposal=proposal, by=request.user)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, str(decision.done))
    return redirect("scenarios:proposals", pk=proposal.scenario_id)


@login_required
@require_POST
def proposal_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(selectors.proposals_visible_to(user=request.user), pk=pk)
    try:
        services.proposal_withdraw(proposal=proposal, by=request.user)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("The proposal is withdrawn."))
    return redirect("scenarios:my_proposals")


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """A proposal's file, for the proposal's organisation and the scenario's publishers only."""
    attachment = get_object_or_404(selectors.attachments_visible_to(user=request.user), pk=pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file is missing.")) from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- autosave answers -------------------------------------------------------------------------
def _autosave_saved(pk: int, *, edit_url: str, autosave_url: str) -> JsonResponse:
    saved_at = date_format(timezone.localtime(), "H:i")
    return JsonResponse(
        {
            "saved": True,
            "id": pk,
            "saved_at": saved_at,
            "message": _("Draft saved at %(time)s") % {"time": saved_at},
            "edit_url": edit_url,
            "autosave_url": autosave_url,
        }
    )


def _autosave_invalid(errors: Any, *, message: str = "", status: int = 400) -> JsonResponse:
    fields = {field: [str(error) for error in messages_] for field, messages_ in errors.items()}
    first = next((f"{errors_[0]}" for errors_ in fields.values() if errors_), "")
    return JsonResponse(
        {
            "saved": False,
            "message": _("Draft not saved: %(reason)s") % {"reason": message or first},
            "errors": fields,
        },
        status=status,
    )


def _autosave_refused(message: str, *, status: int) -> JsonResponse:
    return JsonResponse({"saved": False, "message": message, "errors": {}}, status=status)


def _refusal_text(refusal: Refused, model: type[Scenario]) -> str:
    """A refusal in one line, its fields named as the form labels them."""
    labels = {
        field.name: str(field.verbose_name) for field in model._meta.get_fields() if hasattr(field, "verbose_name")
    }
    details = "; ".join(
        f"{labels[field]}: {' '.join(texts)}" if field in labels else " ".join(texts)
        for field, texts in refusal.errors.items()
    )
    return f"{refusal.message} {details}".strip()

"""The entrants' pages of a competition: the listing, then per competition its overview, data, rules,
leaderboard, team, submissions, the submission form and one submission's live status.

Visibility first: a draft is a 404 for everyone but its hosts, and a submission is a 404 for everyone
but its team and the hosts. Then permission: the services raise NotPermitted (a 403). Refusals the
entrant can act on become form errors or messages. Every action is a POST with its CSRF token.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from competitions import selectors, services
from competitions.forms import CompetitionFilterForm, SubmissionForm, TeamCreateForm, TeamJoinForm
from competitions.models import SPLIT_PRIVATE, SPLIT_PUBLIC, Competition, DataFile, Phase, RulesAcceptance, Submission
from competitions.services import Refused
from hub.accounts.models import User
from services.scorer.selectors import QueuePosition, queue_position

PAGE_SIZE = 20
LEADERBOARD_SIZE = 50


# --- the listing ---------------------------------------------------------------------------------
def competition_list(request: HttpRequest) -> HttpResponse:
    """Published competitions, newest first, filtered by status through a plain GET form."""
    form = CompetitionFilterForm(request.GET or None)
    status = form.chosen_status() if form.is_bound else ""
    competitions = Competition.objects.filter(status__in=Competition.PUBLIC).select_related("host")
    if status:
        competitions = competitions.filter(status=status)
    page = Paginator(competitions, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page_obj": page, "filtered": bool(status)}
    return render(request, "competitions/competition_list.html", context)


# --- one competition's tabs ----------------------------------------------------------------------
def competition_detail(request: HttpRequest, slug: str) -> HttpResponse:
    context = _context(request, slug, tab="overview")
    return render(request, "competitions/overview.html", context)


def competition_data(request: HttpRequest, slug: str) -> HttpResponse:
    """The training files of every phase; the hidden test data is never listed."""
    context = _context(request, slug, tab="data")
    context["files"] = list(
        DataFile.objects.filter(phase__competition=context["competition"], role=DataFile.Role.TRAINING).select_related(
            "phase"
        )
    )
    return render(request, "competitions/data.html", context)


@login_required
def data_download(request: HttpRequest, slug: str, pk: int) -> FileResponse:
    """A training file, for those who accepted the rules (and the hosts); hidden files do not exist here."""
    context = _context(request, slug, tab="data")
    if not (context["accepted"] or context["is_host"]):
        raise Http404(_("Accept the rules to download the data."))
    data_file = get_object_or_404(
        DataFile, pk=pk, phase__competition=context["competition"], role=DataFile.Role.TRAINING
    )
    try:
        handle = data_file.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file is missing.")) from None
    response = FileResponse(handle, as_attachment=True, filename=data_file.original_name)
    response["Cache-Control"] = "private, no-store"
    return response


def competition_rules(request: HttpRequest, slug: str) -> HttpResponse:
    context = _context(request, slug, tab="rules")
    context["acceptance"] = (
        RulesAcceptance.objects.filter(competition=context["competition"], user=request.user).first()
        if request.user.is_authenticated
        else None
    )
    return render(request, "competitions/rules.html", context)


@login_required
@require_POST
def rules_accept(request: HttpRequest, slug: str) -> HttpResponse:
    competition = _context(request, slug, tab="rules")["competition"]
    services.rules_accept(competition=competition, by=_signed_in(request))
    messages.success(request, _("You accepted the rules. You may now download the data and enter a team."))
    return redirect("competitions:team", slug=slug)


def competition_leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    """A phase's leaderboard: public while it runs, private (the final ranking) once it closed.
    With the header `X-Fragment: leaderboard` it answers the table alone, for the page's live refresh."""
    context = _context(request, slug, tab="leaderboard")
    phase = context["phase"]
    if phase is None:
        return render(request, "competitions/leaderboard.html", context)
    split = request.GET.get("split") or (SPLIT_PRIVATE if phase.is_closed else SPLIT_PUBLIC)
    if split not in (SPLIT_PUBLIC, SPLIT_PRIVATE) or (split == SPLIT_PRIVATE and not phase.is_closed):
        split = SPLIT_PUBLIC
    context.update(_leaderboard_context(phase, split=split, page=request.GET.get("page"), team=context["team"]))
    if request.GET.get("top"):  # the top page alone, as another page shows it: no pager
        context["page_obj"] = None
    if _fragment(request) == "leaderboard":
        return _fragment_response(request, "competitions/_leaderboard.html", context)
    return render(request, "competitions/leaderboard.html", context)


def team_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The entrant's team (members, invite code, room left), or the forms to form or join one."""
    context = _context(request, slug, tab="team")
    competition, team = context["competition"], context["team"]
    action = request.POST.get("action") if request.method == "POST" else None
    create_form = TeamCreateForm(request.POST if action == "create" else None, prefix="create")
    join_form = TeamJoinForm(request.POST if action == "join" else None, prefix="join")
    context.update({"create_form": create_form, "join_form": join_form})
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        if team is not None or action not in ("create", "join"):
            return redirect(request.path)
        if not context["accepted"]:
            messages.error(request, _("Accept the rules before you enter a team."))
            return redirect("competitions:rules", slug=slug)
        form: TeamCreateForm | TeamJoinForm = create_form if action == "create" else join_form
        if form.is_valid():
            try:
                if action == "create":
                    team = services.team_create(
                        competition=competition, by=request.user, name=form.cleaned_data["name"]
                    )
                else:
                    team = services.team_join(invite_code=form.cleaned_data["invite_code"], by=request.user)
            except Refused as refusal:
                form.add_refusal(refusal)
            else:
                messages.success(request, _("You are in the team. Good luck!"))
                # An invite code names its team, whatever competition's page it was typed on.
                return redirect("competitions:team", slug=team.competition.slug)
        return render(request, "competitions/team.html", context, status=400)
    if team is not None:
        context["members"] = list(team.memberships.select_related("user").order_by("joined_at", "id"))
    return render(request, "competitions/team.html", context)


@login_required
def submission_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The team's submissions to the chosen phase, with what the entrant may do to each."""
    context = _context(request, slug, tab="submissions")
    phase, team = context["phase"], context["team"]
    submissions = selectors.team_submissions(team=team, phase=phase) if team and phase else Submission.objects.none()
    page = Paginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        {
            "page_obj": page,
            "show_private": phase is not None and (phase.is_closed or context["is_host"]),
            "selected_count": submissions.filter(selected_for_final=True).count(),
        }
    )
    return render(request, "competitions/submissions.html", context)


@login_required
def submission_create(request: HttpRequest, slug: str) -> HttpResponse:
    """The submission form; with script it uploads with a progress bar, without it posts as usual."""
    context = _context(request, slug, tab="submit")
    phase, team = context["phase"], context["team"]
    if phase is None:
        raise Http404(_("This competition has no phase yet."))
    if team is None:
        messages.info(request, _("Form or join a team first."))
        return redirect("competitions:team", slug=slug)
    form = SubmissionForm(request.POST or None, request.FILES or None, phase=phase)
    if request.method == "POST" and form.is_valid():
        try:
            submission = services.submission_create(
                phase=phase,
                team=team,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                by=_signed_in(request),
                description=form.cleaned_data["description"],
            )
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _("Your submission is received."))
            return redirect("competitions:submission", slug=slug, pk=submission.pk)
    context.update({"form": form, "open": phase.is_open()})
    return render(request, "competitions/submit.html", context, status=400 if form.errors else 200)


@login_required
def submission_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One submission's live status, for its team and the hosts. With the header `X-Fragment: status` it
    answers the status panel alone, for the page's live refresh."""
    context = _context(request, slug, tab="submissions")
    submission = _submission(request, context, pk)
    phase = submission.phase
    context.update(
        {
            "phase": phase,
            "submission": submission,
            "show_private": phase.is_closed or context["is_host"],
            "queue": _queue(submission),
            "steps": _steps(submission),
        }
    )
    if _fragment(request) == "status":
        return _fragment_response(request, "competitions/_status_panel.html", context)
    context.update(_leaderboard_context(phase, split=SPLIT_PUBLIC, page=1, team=submission.team))
    context["page_obj"] = None  # the top of the board; the pager is the leaderboard tab's
    return render(request, "competitions/submission_detail.html", context)


@login_required
@require_POST
def submission_select(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Select a scored submission for the final ranking, or drop it (`selected=0`)."""
    submission = _submission(request, _context(request, slug, tab="submissions"), pk)
    selected = request.POST.get("selected") != "0"
    try:
        services.submission_select_final(submission=submission, by=_signed_in(request), selected=selected)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Selected for the final ranking.") if selected else _("No longer selected."))
    return redirect(_safe_next(request, _submissions_url(submission)))


@login_required
@require_POST
def submission_cancel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    submission = _submission(request, _context(request, slug, tab="submissions"), pk)
    try:
        services.submission_cancel(submission=submission, by=_signed_in(request))
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("The submission is cancelled; its slot is given back."))
    return redirect(_safe_next(request, _submissions_url(submission)))


# --- helpers -------------------------------------------------------------------------------------
def _context(request: HttpRequest, slug: str, *, tab: str) -> dict[str, Any]:
    """What every tab shows: the competition (a 404 unless public or hosted by the user), its phases
    and the chosen one, the user's team and whether they accepted the rules."""
    competition = get_object_or_404(selectors.competitions_visible(user=request.user), slug=slug)
    phases = list(competition.phases.all())
    wanted = {str(phase.pk): phase for phase in phases}.get(request.GET.get("phase", ""))
    user = request.user
    return {
        "competition": competition,
        "is_host": selectors.is_host(user=user, competition=competition),
        "phases": phases,
        "phase": wanted or selectors.phase_current(competition=competition),
        "team": selectors.team_of(user=user, competition=competition),
        "accepted": user.is_authenticated
        and RulesAcceptance.objects.filter(competition=competition, user=user).exists(),
        "taking_entrants": competition.status in Competition.OPEN,
        "tab": tab,
    }


def _signed_in(request: HttpRequest) -> User:
    """The user of a view behind login_required."""
    return cast(User, request.user)


def _fragment(request: HttpRequest) -> str:
    """The part of a page live.js asks for. A header, not a parameter, so that the links inside the
    fragment (the pager's) lead to whole pages."""
    return request.headers.get("X-Fragment", "")


def _fragment_response(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, template, context)
    patch_vary_headers(response, ("X-Fragment",))
    return response


def _submission(request: HttpRequest, context: dict[str, Any], pk: int) -> Submission:
    """A submission of this competition that the user's team made, or any of it for a host; else a 404."""
    visible = selectors.submissions_visible(user=request.user, competition=context["competition"])
    if visible is None:
        raise Http404(_("No such submission."))
    return get_object_or_404(visible.select_related("phase", "phase__competition", "team"), pk=pk)


def _submissions_url(submission: Submission) -> str:
    url = reverse("competitions:submissions", args=[submission.phase.competition.slug])
    return f"{url}?phase={submission.phase_id}"


def _safe_next(request: HttpRequest, default: str) -> str:
    """The `next` the form named, if it leads to this site; else `default`."""
    wanted = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if safe else default


def _leaderboard_context(phase: Phase, *, split: str, page: Any, team: Any) -> dict[str, Any]:
    """A leaderboard page with its baselines placed among the rows by score, and a pager for it."""
    try:
        number = max(1, int(page or 1))
    except (TypeError, ValueError):
        number = 1
    board = selectors.leaderboard(phase=phase, split=split, page=number, size=LEADERBOARD_SIZE)
    if board.total and number > board.pages:
        board = selectors.leaderboard(phase=phase, split=split, page=board.pages, size=LEADERBOARD_SIZE)
    pager: Page = Paginator(range(board.total), LEADERBOARD_SIZE).get_page(board.page)
    return {
        "board": board,
        "board_items": _with_baselines(board),
        "split": split,
        "page_obj": pager,
        "own_team_id": team.pk if team else None,
    }


def _with_baselines(board: selectors.LeaderboardPage) -> list[tuple[str, Any]]:
    """("team", row) and ("baseline", row) in score order; a baseline appears on the page whose rows
    bracket its score (on the first page if it beats them all, on the last if every row beats it)."""
    sign = -1.0 if board.higher_is_better else 1.0
    rows = board.rows
    baselines = [
        b
        for b in board.baselines
        if (board.page == 1 or (rows and sign * b.score >= sign * rows[0].score))
        and (board.page >= board.pages or (rows and sign * b.score <= sign * rows[-1].score))
    ]
    items: list[tuple[str, Any]] = [("team", row) for row in rows] + [("baseline", b) for b in baselines]
    # Stable: teams keep their rank order; a baseline goes after the teams it ties with.
    items.sort(key=lambda item: (sign * item[1].score, item[0] == "baseline"))
    return items


def _steps(submission: Submission) -> list[dict[str, Any]]:
    """The path a submission takes, each step marked done, current or to come."""
    status = Submission.Status
    here = Submission.STEP[submission.status]

    def state(step: str) -> str:
        return "current" if Submission.STEP[step] == here else "done" if Submission.STEP[step] < here else "todo"

    last = submission.status if submission.is_final else status.SCORED
    return [
        {"value": step, "label": status(step).label, "state": state(step)}
        for step in (status.RECEIVED, status.QUEUED, status.RUNNING, last)
    ]


def _queue(submission: Submission) -> QueuePosition | None:
    """Where a waiting submission stands in the scorer's queue (place, estimated start); None once it runs."""
    if submission.status not in (Submission.Status.RECEIVED, Submission.Status.QUEUED):
        return None
    return queue_position(submission_id=submission.pk)

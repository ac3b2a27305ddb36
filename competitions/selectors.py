"""Reads shared by the competition pages, API, services and tasks: who may act, teams, and leaderboards.

Who is who: a host is a member of the competition's host organisation with the competition-host or
administrator role; an entrant is a member of a team of the competition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, RowRange, Window
from django.db.models.functions import FirstValue, RowNumber, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from competitions.models import SPLIT_PRIVATE, SPLITS, Competition, LeaderboardEntry, Phase, Submission, Team
from hub.accounts.models import Membership, Organisation, Role

HOST_ROLES = (Role.COMPETITION_HOST, Role.ADMIN)
MAX_PAGE_SIZE = 200


class LeaderboardHidden(LookupError):
    """This leaderboard is not visible yet (the private split before its phase closed): a 404 for readers."""


def is_host(*, user: Any, competition: Competition) -> bool:
    """May `user` configure this competition and act on its submissions?"""
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(user=user, organisation_id=competition.host_id, role__in=HOST_ROLES).exists()


def team_of(*, user: Any, competition: Competition) -> Team | None:
    """The user's team in a competition (an entrant is in at most one), or None."""
    if not user.is_authenticated:
        return None
    return Team.objects.filter(competition=competition, memberships__user=user).first()


def is_team_member(*, user: Any, team: Team) -> bool:
    return user.is_authenticated and team.memberships.filter(user=user).exists()


def team_submissions(*, team: Team, phase: Phase) -> QuerySet[Submission]:
    """A team's submissions to a phase, newest first (for the team's own eyes: logs and reasons included)."""
    return Submission.objects.filter(team=team, phase=phase).order_by("-created_at", "-id")


def competitions_visible(*, user: Any) -> QuerySet[Competition]:
    """The competitions `user` may read: every public one, and the drafts of the organisations they host for."""
    visible = Q(status__in=Competition.PUBLIC)
    if user.is_authenticated:
        hosted = Membership.objects.filter(user=user, role__in=HOST_ROLES).values("organisation_id")
        visible |= Q(host_id__in=hosted)
    return Competition.objects.filter(visible).select_related("host")


def phase_current(*, competition: Competition) -> Phase | None:
    """The phase entrants mean when they name none: the one open now, else the latest to have opened,
    else the first to come."""
    phases = list(competition.phases.order_by("starts_at", "id"))
    now = timezone.now()
    return (
        next((phase for phase in phases if phase.is_open(now)), None)
        or next((phase for phase in reversed(phases) if phase.starts_at <= now), None)
        or next(iter(phases), None)
    )


def submissions_visible(*, user: Any, competition: Competition) -> QuerySet[Submission] | None:
    """The submissions of a competition `user` may read, newest first: all of them for its hosts, their
    team's for an entrant; None for anyone else."""
    submissions = Submission.objects.filter(phase__competition=competition).order_by("-created_at", "-id")
    if is_host(user=user, competition=competition):
        return submissions
    team = team_of(user=user, competition=competition)
    return None if team is None else submissions.filter(team=team)


def queue_position(*, submission: Submission) -> int | None:
    """1 for the next of the phase's waiting submissions to run; None once it runs or has ended."""
    waiting = (Submission.Status.RECEIVED, Submission.Status.QUEUED)
    if submission.status not in waiting:
        return None
    ahead = Submission.objects.filter(phase_id=submission.phase_id, status__in=waiting).filter(
        Q(created_at__lt=submission.created_at) | Q(created_at=submission.created_at, id__lt=submission.pk)
    )
    return ahead.count() + 1


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    team_id: int
    team_name: str
    organisation_id: int | None
    score: float
    ci_low: float | None
    ci_high: float | None
    submitted_at: datetime
    entries: int
    tied_with_leader: bool  # its interval overlaps the leader's: not distinguishable from first place


@dataclass(frozen=True)
class BaselineRow:
    name: str
    name_en: str
    score: float


@dataclass(frozen=True)
class LeaderboardPage:
    phase_id: int
    split: str
    metric: str
    higher_is_better: bool
    extra_columns: list[str]
    page: int
    size: int
    total: int
    rows: list[LeaderboardRow]
    baselines: list[BaselineRow]  # shown among the rows by score, never ranked

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def leaderboard(*, phase: Phase, split: str, page: int = 1, size: int = 50) -> LeaderboardPage:
    """One page of a phase's leaderboard: each team's best visible submission, ranked in SQL.

    Ties go to the earlier submission. The rows are LeaderboardEntry rows (one per team, kept by the
    services; hidden submissions and disqualified teams have none) read along their rank index, with
    ROW_NUMBER() over that same order: PostgreSQL reads offset + size index entries, not every team, and
    joins the page's teams only.
    The private split is refused with LeaderboardHidden until the phase is closed.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if split == SPLIT_PRIVATE and not phase.is_closed:
        raise LeaderboardHidden(_("The private leaderboard is revealed when the phase closes."))
    page = max(1, int(page))
    size = min(max(1, int(size)), MAX_PAGE_SIZE)
    order = [F("rank_key").desc(), F("submitted_at").asc(), F("submission_id").asc()]
    entries = LeaderboardEntry.objects.filter(phase=phase, split=split)
    # The window runs over the entries alone, so PostgreSQL can read them along the rank index; the
    # leader's interval rides along (FIRST_VALUE), and team names are read for the page's rows only: a
    # deep page joins `size` teams, not every team above it.
    window = (
        entries.annotate(
            rank=Window(RowNumber(), order_by=order),
            # A ROWS frame: unlike the default RANGE one it needs no look-ahead past the page for peers.
            leader_ci_low=Window(FirstValue("ci_low"), order_by=order, frame=RowRange(start=None, end=0)),
            leader_ci_high=Window(FirstValue("ci_high"), order_by=order, frame=RowRange(start=None, end=0)),
        )
        .order_by(*order)
        .values(
            "rank",
            "team_id",
            "score",
            "ci_low",
            "ci_high",
            "submitted_at",
            "entries",
            "leader_ci_low",
            "leader_ci_high",
        )
    )
    offset = (page - 1) * size
    found: list[Mapping[str, Any]] = list(window[offset : offset + size])
    teams = {
        team["id"]: team
        # order_by(): the model's default ordering would join the competition for nothing.
        for team in Team.objects.filter(pk__in=[row["team_id"] for row in found])
        .order_by()
        .values("id", "name", "organisation_id")
    }
    rows = [
        LeaderboardRow(
            rank=row["rank"],
            team_id=row["team_id"],
            team_name=teams[row["team_id"]]["name"],
            organisation_id=teams[row["team_id"]]["organisation_id"],
            score=row["score"],
            ci_low=row["ci_low"],
            ci_high=row["ci_high"],
            submitted_at=row["submitted_at"],
            entries=row["entries"],
            tied_with_leader=row["rank"] > 1
            and _overlaps(row, {"ci_low": row["leader_ci_low"], "ci_high": row["leader_ci_high"]}),
        )
        for row in found
    ]
    baselines = [
        BaselineRow(name=b.name, name_en=b.name_en, score=float(b.scores[split][phase.primary_metric]))
        for b in phase.baselines.all()
        if isinstance(b.scores.get(split), dict) and phase.primary_metric in b.scores[split]
    ]
    return LeaderboardPage(
        phase_id=phase.pk,
        split=split,
        metric=phase.primary_metric,
        higher_is_better=phase.higher_is_better,
        extra_columns=list(phase.extra_columns),
        page=page,
        size=size,
        total=entries.count(),
        rows=rows,
        baselines=sorted(baselines, key=lambda b: -b.score if phase.higher_is_better else b.score),
    )


def _overlaps(row: Mapping[str, Any], leader: Mapping[str, Any] | None) -> bool:
    """Do two bootstrap intervals overlap? False where either is unknown."""
    if leader is None or None in (row["ci_low"], row["ci_high"], leader["ci_low"], leader["ci_high"]):
        return False
    return row["ci_low"] <= leader["ci_high"] and leader["ci_low"] <= row["ci_high"]


# --- the hosts' pages ------------------------------------------------------------------------------
def host_organisations(*, user: Any) -> list[Organisation]:
    """The organisations `user` may create competitions for (competition host or administrator there)."""
    if not user.is_authenticated:
        return []
    return list(
        Organisation.objects.filter(memberships__user=user, memberships__role__in=HOST_ROLES)
        .distinct()
        .order_by("name")
    )


def competitions_hosted(*, user: Any) -> QuerySet[Competition]:
    """Every competition, drafts included, of the organisations `user` hosts for; newest first."""
    hosted = Membership.objects.filter(user=user, role__in=HOST_ROLES).values("organisation_id")
    return Competition.objects.filter(host_id__in=hosted).select_related("host").order_by("-created_at", "-id")


def phase_submissions(*, phase: Phase, status: str = "", kind: str = "", team: str = "") -> QuerySet[Submission]:
    """A phase's submissions for its hosts, newest first, filtered by status, kind and a part of the team's name."""
    submissions = Submission.objects.filter(phase=phase).select_related("team").order_by("-created_at", "-id")
    if status:
        submissions = submissions.filter(status=status)
    if kind:
        submissions = submissions.filter(kind=kind)
    if team:
        submissions = submissions.filter(team__name__icontains=team)
    return submissions


@dataclass(frozen=True)
class PhaseAnalytics:
    """A phase's activity in numbers: submissions per day (the site's time zone), teams, failures by
    code, and how long submissions waited to start (seconds; None before any started)."""

    per_day: list[tuple[date, int]]
    submissions: int
    teams_submitting: int
    teams_entered: int
    failures: list[tuple[str, int]]
    wait_median: float | None
    wait_p90: float | None
    waits_counted: int


def phase_analytics(*, phase: Phase) -> PhaseAnalytics:
    """Aggregates computed in SQL (one query each), whatever the number of submissions."""
    submissions = Submission.objects.filter(phase=phase)
    per_day = (
        submissions.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    totals = submissions.aggregate(n=Count("id"), teams=Count("team_id", distinct=True))
    failures = (
        submissions.filter(status=Submission.Status.FAILED)
        .values("failure_code")
        .annotate(n=Count("id"))
        .order_by("-n", "failure_code")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY wait), percentile_cont(0.9) WITHIN GROUP "
            "(ORDER BY wait), count(*) FROM (SELECT EXTRACT(EPOCH FROM started_at - created_at) AS wait "
            "FROM competitions_submission WHERE phase_id = %s AND started_at IS NOT NULL) AS waits",
            [phase.pk],
        )
        median, p90, counted = cursor.fetchone()
    return PhaseAnalytics(
        per_day=[(row["day"], row["n"]) for row in per_day],
        submissions=totals["n"],
        teams_submitting=totals["teams"],
        teams_entered=Team.objects.filter(competition_id=phase.competition_id).count(),
        failures=[(row["failure_code"] or "", row["n"]) for row in failures],
        wait_median=None if median is None else float(median),
        wait_p90=None if p90 is None else float(p90),
        waits_counted=counted,
    )

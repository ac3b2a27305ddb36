"""Reads shared by the funds services, pages, API and tasks: who plays which part, conflicts, what each
reader may see of an application and its reviews, and score summaries.

Who is who, for one application: the applicant started it (a member of the applicant organisation),
co-applicants are members it added, a manager manages the call's fund (listed among the fund's managers,
or a fund manager or administrator of its managing organisation), a reviewer holds an active assignment
and no conflict. A conflict is recorded against the application or its organisation, or is plain: the
reviewer belongs to the applicant organisation or is named on the application. Conflicts bind managers
too: a conflicted manager does not manage that application.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count, F, FloatField, OuterRef, Q, QuerySet, StdDev, Subquery, Window
from django.db.models.functions import Cast
from django.utils import timezone

from funds.forms_builder import AnswersInvalid, answers_validate, questions
from funds.models import Application, ApplicationEvent, Call, Conflict, FormVersion, Fund, Review, ReviewAssignment
from funds.workflow import APPLICANTS, Actor
from hub.accounts.models import Membership, Role, User

MANAGER_ROLES = (Role.FUND_MANAGER, Role.ADMIN)


class NotVisible(LookupError):
    """The reader may not see this (or it does not exist for them): a 404, never a hint that it exists."""


def managed_funds(*, user: Any) -> QuerySet[Fund]:
    """The funds `user` manages: listed among a fund's managers, or a fund manager or administrator of
    its managing organisation."""
    if not user.is_authenticated:
        return Fund.objects.none()
    by_role = Membership.objects.filter(user=user, role__in=MANAGER_ROLES).values("organisation_id")
    return Fund.objects.filter(Q(managers=user) | Q(managing_organisation_id__in=by_role)).distinct()


def is_manager(*, user: Any, fund: Fund) -> bool:
    """May `user` run this fund's calls: screen, assign, decide, pay?"""
    return managed_funds(user=user).filter(pk=fund.pk).exists()


def is_member(*, user: Any, organisation_id: int) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user, organisation_id=organisation_id).exists()


def conflicted_reviewers(*, applications: Iterable[Application]) -> dict[int, set[int]]:
    """For each application, the ids of the users with a conflict of interest, who may never review or
    manage it: recorded conflicts (with it or its organisation), members of its organisation, and the
    people named on it (who still read it as applicants). Three queries whatever the number of
    applications."""
    applications = list(applications)
    by_org: dict[int, list[int]] = defaultdict(list)
    conflicted: dict[int, set[int]] = {}
    for application in applications:
        by_org[application.organisation_id].append(application.pk)
        conflicted[application.pk] = {application.created_by_id}
    ids = list(conflicted)
    for reviewer_id, application_id, organisation_id in Conflict.objects.filter(
        Q(application_id__in=ids) | Q(organisation_id__in=by_org)
    ).values_list("reviewer_id", "application_id", "organisation_id"):
        for app_id in [application_id] if application_id else by_org[organisation_id]:
            conflicted[app_id].add(reviewer_id)
    for user_id, organisation_id in Membership.objects.filter(organisation_id__in=by_org).values_list(
        "user_id", "organisation_id"
    ):
        for app_id in by_org[organisation_id]:
            conflicted[app_id].add(user_id)
    for app_id, user_id in Application.co_applicants.through.objects.filter(application_id__in=ids).values_list(
        "application_id", "user_id"
    ):
        conflicted[app_id].add(user_id)
    return conflicted


def is_conflicted(*, user: Any, application: Application) -> bool:
    return user.pk in conflicted_reviewers(applications=[application])[application.pk]


def active_assignment(*, user: Any, application: Application) -> ReviewAssignment | None:
    """The user's current (not revoked) assignment to review the application, if any."""
    if not user.is_authenticated:
        return None
    return ReviewAssignment.objects.filter(application=application, reviewer=user, revoked_at__isnull=True).first()


def actors_of(*, user: Any, application: Application) -> frozenset[Actor]:
    """The parts `user` plays for `application` (funds.workflow.Actor); empty for anyone else. A conflict
    keeps a user out of the manager's part as much as the reviewer's: nobody screens, decides on or pays
    their own organisation's application."""
    if not user.is_authenticated:
        return frozenset()
    actors: set[Actor] = set()
    if application.created_by_id == user.pk:
        actors.add(Actor.APPLICANT)
    if application.co_applicants.filter(pk=user.pk).exists():
        actors.add(Actor.CO_APPLICANT)
    if is_conflicted(user=user, application=application):
        return frozenset(actors)
    if is_manager(user=user, fund=application.call.fund):
        actors.add(Actor.MANAGER)
    if active_assignment(user=user, application=application):
        actors.add(Actor.REVIEWER)
    return frozenset(actors)


@dataclass(frozen=True)
class ApplicationView:
    """What a reader sees of an application. Under blind review a reviewer gets no applicant identity:
    `organisation_*`, `created_by_id` and `co_applicant_ids` are empty, and `answers` lacks those to the
    questions the form marks as identifying the applicant."""

    id: int
    call_id: int
    title: str
    status: str
    form_version: int
    answers: dict[str, Any]
    tags: list[str]
    requested_amount: Decimal
    approved_amount: Decimal | None
    submitted_at: datetime | None
    blind: bool
    organisation_id: int | None
    organisation_name: str | None
    created_by_id: int | None
    co_applicant_ids: list[int]


def application_view(*, user: Any, application: Application) -> ApplicationView:
    """The application as `user` may see it, or NotVisible: applicants, co-applicants, the fund's managers
    and assigned reviewers without a conflict read it; a reviewer of a blind call reads it without who
    applied."""
    actors = actors_of(user=user, application=application)
    if not actors:
        raise NotVisible("application")
    blind = application.call.blind_review and actors == {Actor.REVIEWER}
    return ApplicationView(
        id=application.pk,
        call_id=application.call_id,
        title=application.title,
        status=application.status,
        form_version=application.form_version,
        answers=_without_identity(application) if blind else application.answers,
        tags=list(application.tags),
        requested_amount=application.requested_amount,
        approved_amount=application.approved_amount,
        submitted_at=application.submitted_at,
        blind=blind,
        organisation_id=None if blind else application.organisation_id,
        organisation_name=None if blind else application.organisation.name,
        created_by_id=None if blind else application.created_by_id,
        co_applicant_ids=[] if blind else sorted(application.co_applicants.values_list("pk", flat=True)),
    )


def _without_identity(application: Application) -> dict[str, Any]:
    """The answers less those to questions the form marks as identifying the applicant."""
    version = form_version_of(call=application.call, number=application.form_version)
    identifying = {spec["name"] for spec in questions(version.fields) if spec.get("identifying")} if version else set()
    return {name: answer for name, answer in application.answers.items() if name not in identifying}


# Trail lines about the review's own running (who was taken off it, and why): for managers only.
INTERNAL_ACTIONS = ("unassign",)


def application_trail(*, user: Any, application: Application) -> QuerySet[ApplicationEvent]:
    """The audit trail, oldest first: all of it for the fund's managers; for the applicant side all but
    the internal lines; for nobody else (reviewers included)."""
    actors = actors_of(user=user, application=application)
    if Actor.MANAGER in actors:
        return application.trail.order_by("at", "id")
    if actors & APPLICANTS:
        return application.trail.exclude(action__in=INTERNAL_ACTIONS).order_by("at", "id")
    raise NotVisible("trail")


def counted_reviews(*, application: Application) -> QuerySet[Review]:
    """The reviews that count: those of assignments not revoked."""
    return Review.objects.filter(assignment__application=application, assignment__revoked_at__isnull=True)


def reviews_visible(*, user: Any, application: Application) -> list[Review]:
    """The reviews `user` may read: a manager all that count; a reviewer their own, and the others' only
    once their own is submitted; anyone else NotVisible."""
    actors = actors_of(user=user, application=application)
    reviews = counted_reviews(application=application).select_related("assignment").order_by("submitted_at", "id")
    if Actor.MANAGER in actors:
        return list(reviews)
    if Actor.REVIEWER in actors:
        own = [review for review in reviews if review.assignment.reviewer_id == user.pk]
        return list(reviews) if own else []
    raise NotVisible("reviews")


def assignments_of(*, reviewer: Any) -> QuerySet[ReviewAssignment]:
    """A reviewer's active assignments to applications in review, oldest first (their queue)."""
    return ReviewAssignment.objects.filter(
        reviewer=reviewer, revoked_at__isnull=True, application__status=Application.Status.IN_REVIEW
    ).order_by("assigned_at", "id")


@dataclass(frozen=True)
class ScoreSummary:
    count: int
    mean: Decimal | None
    spread: Decimal | None  # population standard deviation of the totals


def score_summary(*, application: Application) -> ScoreSummary:
    """Mean and spread of the weighted totals of the reviews that count (as application_queue computes
    them for a whole call)."""
    figures = counted_reviews(application=application).aggregate(
        count=Count("id"), mean=Avg("total"), spread=StdDev("total")
    )
    cent = Decimal("0.01")
    return ScoreSummary(
        count=figures["count"],
        mean=None if figures["mean"] is None else Decimal(figures["mean"]).quantize(cent),
        spread=None if figures["spread"] is None else Decimal(figures["spread"]).quantize(cent),
    )


def applications_of(*, user: Any) -> QuerySet[Application]:
    """The applications a user started or is a co-applicant on, newest first (their own list)."""
    if not user.is_authenticated:
        return Application.objects.none()
    return (
        Application.objects.filter(Q(created_by=user) | Q(co_applicants=user))
        .distinct()
        .select_related("call")
        .order_by("-created_at", "-id")
    )


def application_queue(*, user: Any, call: Call, status: str | None = None) -> QuerySet[Application]:
    """A call's applications for its managers, oldest submission first (drafts are the applicants' own),
    each annotated in the one query with `reviewers` (active assignments), `reviews` (that count), and
    `score_mean` and `score_spread` (population standard deviation) of their totals; NotVisible for
    anyone else."""
    if not is_manager(user=user, fund=call.fund):
        raise NotVisible("queue")
    counted = Q(assignments__revoked_at__isnull=True)
    queue = (
        Application.objects.filter(call=call)
        .exclude(status=Application.Status.DRAFT)
        .select_related("organisation")
        .annotate(
            reviewers=Count("assignments", filter=counted, distinct=True),
            reviews=Count("assignments__review", filter=counted, distinct=True),
            score_mean=Avg("assignments__review__total", filter=counted),
            score_spread=StdDev("assignments__review__total", filter=counted),
        )
        .order_by("submitted_at", "id")
    )
    return queue.filter(status=status) if status else queue


# --- the manager dashboard ---------------------------------------------------------------------------
# Reviewers disagree unusually on an application when the spread of its review totals lies above the
# upper Tukey fence of the call's spreads, Q3 + 1.5 × IQR (over its applications with two reviews or
# more), and is at least MIN_OUTLIER_SPREAD points: on a call where reviewers nearly always agree the
# fence is near zero, and a few points of difference on a scale of 100 is not worth a manager's look.
# On such an application the review furthest from the mean is the outlier. (A rule on each
# application's own reviews, such as "2 SD from its mean", can never fire with three reviews: the
# furthest of three totals is at most √2 population SDs from their mean.)
OUTLIER_IQR_FACTOR = Decimal("1.5")
MIN_OUTLIER_SPREAD = Decimal("5.00")
FENCE_SECONDS = 60
DASHBOARD_ORDERS = {
    "submitted": ("submitted_at", "id"),
    "mean": (F("score_mean").desc(nulls_last=True), "submitted_at", "id"),
    "spread": (F("score_spread").desc(nulls_last=True), "submitted_at", "id"),
}


@dataclass(frozen=True)
class DashboardFilters:
    """What a manager narrowed the dashboard to: a stage, words in the title or applicant's name (or an
    application number), only the applications whose reviewers disagree, and the order."""

    status: str = ""
    search: str = ""
    outliers_only: bool = False
    order: str = "submitted"


@dataclass(frozen=True)
class DashboardReview:
    reviewer_id: int
    total: Decimal
    outlier: bool


@dataclass(frozen=True)
class DashboardRow:
    """One application on the dashboard: the queue's row (with `reviewers`, `reviews`, `score_mean`,
    `score_spread` and `stage_since` annotated), its days in the current stage and its review totals."""

    application: Application
    days_in_stage: int | None
    reviews: list[DashboardReview]
    outlier: bool


@dataclass(frozen=True)
class Dashboard:
    """A call's dashboard: the budget is on `call` (budget_envelope, committed, disbursed, remaining)."""

    call: Call
    stages: dict[str, int]  # status → applications in it, every stage but drafts
    spread_fence: Decimal | None  # spreads above it are flagged; None until two applications have reviews
    rows: list[DashboardRow]
    count: int  # applications matching the filters


def spread_fence(*, call: Call) -> Decimal | None:
    """The spread above which an application's reviewers disagree unusually (see OUTLIER_IQR_FACTOR).

    It aggregates every review of the call (about 25 ms at 30,000 reviews), so it is kept in the cache for
    FENCE_SECONDS: a call-wide statistic moves slowly, and each application's own spread, which it is
    compared with, is always read fresh."""
    key = f"funds:spread-fence:{call.pk}"
    cached = cache.get(key)
    if cached is None:
        cached = (_spread_fence(call),)
        cache.set(key, cached, FENCE_SECONDS)
    return cached[0]


def _spread_fence(call: Call) -> Decimal | None:
    """spread_fence from the database: one query, the quartiles computed in PostgreSQL."""
    spreads = (
        Review.objects.filter(assignment__application__call=call, assignment__revoked_at__isnull=True)
        .values("assignment__application_id")
        # In double precision: numeric arithmetic makes the same aggregate about twice as slow.
        .annotate(n=Count("id"), spread=StdDev(Cast("total", FloatField())))
        .filter(n__gte=2)
        .values("spread")
    )
    inner, params = spreads.query.sql_with_params()
    with connection.cursor() as cursor:
        # `inner` is the ORM's own SQL for the spreads, its values left in `params`.
        sql = (
            "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY spread),"  # noqa: S608
            f" percentile_cont(0.75) WITHIN GROUP (ORDER BY spread), count(*) FROM ({inner}) AS spreads"
        )
        cursor.execute(sql, params)
        q1, q3, n = cursor.fetchone()
    if n < 2:
        return None
    q1, q3 = Decimal(str(q1)), Decimal(str(q3))
    return max(q3 + OUTLIER_IQR_FACTOR * (q3 - q1), MIN_OUTLIER_SPREAD).quantize(Decimal("0.01"))


def _narrowed(queue: QuerySet[Application], filters: DashboardFilters) -> QuerySet[Application]:
    """The applications of a stage, or matching the words (title, applicant's name, number)."""
    if filters.status:
        queue = queue.filter(status=filters.status)
    words = filters.search.strip()
    if words:
        match = Q(title__icontains=words) | Q(organisation__name__icontains=words)
        queue = queue.filter(match | Q(pk=int(words)) if words.isdigit() else match)
    return queue


def dashboard_queue(
    *, user: Any, call: Call, filters: DashboardFilters, fence: Decimal | None = None
) -> QuerySet[Application]:
    """application_queue narrowed by `filters` and ordered by them, each row also annotated with
    `stage_since`, when it entered its current status (the last trail line that moved it there);
    NotVisible for anyone but the fund's managers. `fence` (spread_fence) is needed for outliers_only."""
    entered = ApplicationEvent.objects.filter(application=OuterRef("pk"), to_status=OuterRef("status")).exclude(
        from_status=F("to_status")
    )
    queue = _narrowed(application_queue(user=user, call=call), filters).annotate(
        stage_since=Subquery(entered.order_by("-at", "-id").values("at")[:1])
    )
    if filters.outliers_only:
        queue = queue.filter(Q(score_spread__gt=fence)) if fence is not None else queue.none()
    return queue.order_by(*DASHBOARD_ORDERS.get(filters.order, DASHBOARD_ORDERS["submitted"]))


def call_dashboard(
    *, user: Any, call: Call, filters: DashboardFilters, page: int = 1, size: int = 25, now: datetime | None = None
) -> Dashboard:
    """A call's dashboard for its managers (NotVisible for anyone else): applications per stage, one page
    of the filtered queue with ageing, score mean and spread and the review totals, outliers flagged.

    Five queries whatever the number of applications (six when the fence is not cached). The page is
    chosen first, by id: in submission order that needs no aggregate at all, so only the page's
    applications are aggregated; ordering by the scores or keeping only the outliers aggregates every
    application of the call, in PostgreSQL. Then the page's rows and their reviews are loaded."""
    now = now or timezone.now()
    fence = spread_fence(call=call)
    queue = dashboard_queue(user=user, call=call, filters=filters, fence=fence)
    stages = dict(
        Application.objects.filter(call=call)
        .exclude(status=Application.Status.DRAFT)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    if filters.outliers_only or filters.order in ("mean", "spread"):
        chosen = queue
    else:
        plain = Application.objects.filter(call=call).exclude(status=Application.Status.DRAFT)
        chosen = _narrowed(plain, filters).order_by(*DASHBOARD_ORDERS["submitted"])
    start = (max(page, 1) - 1) * size
    # The number matching rides along on the page's rows (a window over the whole result), so the
    # aggregates are computed once; only a page past the end needs a count of its own.
    picked = list(chosen.annotate(matching=Window(Count("*"))).values_list("pk", "matching")[start : start + size])
    ids = [pk for pk, _matching in picked]
    count = picked[0][1] if picked else (chosen.count() if start else 0)
    loaded: dict[int, Any] = {application.pk: application for application in queue.filter(pk__in=ids)}
    applications = [loaded[pk] for pk in ids]
    totals: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for application_id, reviewer_id, total in (
        counted_reviews_of(ids=[a.pk for a in applications])
        .order_by("submitted_at", "id")
        .values_list("assignment__application_id", "assignment__reviewer_id", "total")
    ):
        totals[application_id].append((reviewer_id, total))
    rows = []
    for application in applications:
        flagged = fence is not None and application.score_spread is not None and application.score_spread > fence
        given = totals.get(application.pk, [])
        furthest = max(given, key=lambda t: abs(t[1] - Decimal(application.score_mean)), default=None)
        rows.append(
            DashboardRow(
                application=application,
                days_in_stage=(now - application.stage_since).days if application.stage_since else None,
                reviews=[DashboardReview(r, total, flagged and (r, total) == furthest) for r, total in given],
                outlier=flagged,
            )
        )
    return Dashboard(call=call, stages=stages, spread_fence=fence, rows=rows, count=count)


def counted_reviews_of(*, ids: Iterable[int]) -> QuerySet[Review]:
    """The reviews that count of several applications (counted_reviews for a page of them)."""
    return Review.objects.filter(assignment__application_id__in=list(ids), assignment__revoked_at__isnull=True)


def form_version_of(*, call: Call, number: int) -> FormVersion | None:
    """Version `number` of the call's form (None for a call without a form)."""
    if call.form_id is None:
        return None
    return FormVersion.objects.get(form_id=call.form_id, number=number)


@dataclass(frozen=True)
class StoredFile:
    """An attachment already stored, as answers_validate sees a file (name and size)."""

    name: str
    size: int
    attachment_id: int


def stored_files(*, application: Application) -> dict[str, StoredFile]:
    """The latest attachment of each file question of the application (none before it is saved)."""
    if application.pk is None:
        return {}
    latest: dict[str, StoredFile] = {}
    for attachment in application.attachments.order_by("uploaded_at", "id"):
        latest[attachment.question] = StoredFile(attachment.original_name, attachment.size, attachment.pk)
    return latest


def answers_problems(*, application: Application) -> dict[str, list[str]]:
    """What keeps the application's answers from being submitted, by question name, on the version they
    were given on (empty when complete): the check application_submit makes, without the write."""
    version = form_version_of(call=application.call, number=application.form_version)
    if version is None:
        return {}
    try:
        answers_validate(version.fields, application.answers, stored_files(application=application), complete=True)
    except AnswersInvalid as invalid:
        return invalid.errors
    return {}


def applicant_ids(*, application: Application) -> set[int]:
    """The user who started the application and its co-applicants."""
    return {application.created_by_id, *application.co_applicants.values_list("pk", flat=True)}


def manager_ids(*, application: Application) -> set[int]:
    """The managers of the application's fund (funds.selectors.managed_funds, seen from the fund), less
    those with a conflict, who do not manage this application."""
    fund = application.call.fund
    managers = User.objects.filter(
        Q(managed_funds=fund)
        | Q(memberships__organisation_id=fund.managing_organisation_id, memberships__role__in=MANAGER_ROLES)
    ).values_list("pk", flat=True)
    return set(managers) - conflicted_reviewers(applications=[application])[application.pk]

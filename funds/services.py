"""Every write to calls, applications, conflicts, reviews, tranches and payments: one function, one
transaction, the audit trail and the events written inside it.

Refusals are named exceptions: `NotPermitted` (a 403: the actor may not do this at all) and the `Refused`
family, whose message the user can act on, whose `errors` name the fields concerned and whose `code` is
stable for API clients. A refused write stores nothing.

Locks are always taken in one order: the application, then rows of its own (an assignment, a tranche),
then its call, then the fund; so two writers never wait on each other in a cycle, and two approvals on
one call are served one after the other against the committed figures the first left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funds.events import (
    STEP_EVENTS,
    ApplicationAmended,
    CallPublished,
    FastTrackInvited,
    MilestoneReported,
    MilestoneReviewed,
    ReviewAssigned,
    ReviewSubmitted,
    TranchePaid,
)
from funds.forms_builder import AnswersInvalid, answers_validate, definitions
from funds.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    ZERO,
    Application,
    ApplicationEvent,
    ApplicationForm,
    Attachment,
    Call,
    Conflict,
    FastTrackInvitation,
    FormVersion,
    Fund,
    MilestoneReport,
    Payment,
    PoolReviewer,
    Review,
    ReviewAssignment,
    RubricCriterion,
    Tranche,
)
from funds.selectors import (
    StoredFile,
    active_assignment,
    actors_of,
    applicant_ids,
    conflicted_reviewers,
    form_version_of,
    is_manager,
    is_member,
    managed_funds,
    manager_ids,
    stored_files,
)
from funds.workflow import APPLICANTS, COMMITTED, EDITABLE, Actor, Transition, transition
from hub.accounts.models import Organisation, User
from hub.events.publish import publish

S = Application.Status
CENT = Decimal("0.01")
APPLICATION_FIELDS = ("title", "requested_amount", "answers", "tags")
CALL_FIELDS = (
    "title",
    "title_en",
    "description",
    "description_en",
    "opens_at",
    "closes_at",
    "eligible_kinds",
    "eligible_regions",
    "budget_envelope",
    "blind_review",
    "reviewers_per_application",
    "form",
    "fast_track_competition_id",
    "fast_track_top",
)


class NotPermitted(PermissionDenied):
    """The actor may not do this at all (not on the application, not a manager of the fund): a 403."""


class Refused(Exception):
    """The write is not possible now; `message` tells the user why, `errors` maps fields to messages and
    `code` names the reason for API clients."""

    def __init__(
        self, message: str, *, code: str = "refused", errors: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.errors: dict[str, list[str]] = {
            name: [str(m) for m in messages] for name, messages in (errors or {}).items()
        }


class CallRefused(Refused):
    """A call cannot be published (already published, window or envelope wrong)."""


class ApplicationRefused(Refused):
    """An application cannot be saved or take that step (call closed, not eligible, double submit, wrong
    status, bad amount, locked...)."""


class BudgetExceeded(Refused):
    """An approval, amendment or payment would take a call's envelope or a fund's total past its limit."""


class ReviewRefused(Refused):
    """A conflict, an assignment or a review is not possible (conflicted, not in the pool, already
    reviewed, scores off the rubric...)."""


class DisbursementRefused(Refused):
    """A tranche plan, milestone report or payment is not possible (plan does not add up, milestone not
    accepted, already paid, reference used...)."""


# --- calls -----------------------------------------------------------------------------------------
def call_create(*, fund: Fund, by: User, fields: Mapping[str, Any]) -> Call:
    """Start a draft call of `fund`, by one of its managers; `fields` are any of CALL_FIELDS (title,
    window and envelope needed). The envelope may not exceed the fund's total budget."""
    if not is_manager(user=by, fund=fund):
        raise NotPermitted(_("Only the managers of a fund may create its calls."))
    with transaction.atomic():
        call = Call(fund=fund, created_by=by, status=Call.Status.DRAFT)
        _set_call_fields(call, fields)
        call.save()
    return call


def call_update(*, call: Call, by: User, fields: Mapping[str, Any]) -> Call:
    """Change a draft call, by a manager of its fund (a published call's terms stay as announced)."""
    with transaction.atomic():
        call = _lock_draft_call(call, by=by)
        _set_call_fields(call, fields)
        call.save()
    return call


def call_set_rubric(*, call: Call, by: User, criteria: Sequence[Mapping[str, Any]]) -> list[RubricCriterion]:
    """Replace a draft call's rubric with `criteria`, each {title, title_en?, weight, max_score}, in order."""
    with transaction.atomic():
        call = _lock_draft_call(call, by=by)
        call.criteria.all().delete()
        made = []
        for position, spec in enumerate(criteria, start=1):
            criterion = RubricCriterion(
                call=call,
                position=position,
                title=" ".join(str(spec.get("title", "")).split()),
                title_en=str(spec.get("title_en", "")).strip(),
                weight=spec.get("weight", ""),
                max_score=spec.get("max_score", 10),
            )
            _validate(criterion, CallRefused, exclude=["call"], prefix=f"criteria.{position}")
            criterion.save()
            made.append(criterion)
    return made


def call_set_pool(*, call: Call, by: User, reviewers: Mapping[User, Iterable[str]]) -> list[PoolReviewer]:
    """Make `reviewers` (each with their expertise tags) the call's reviewer pool, by a manager of its
    fund, at any time; assignments already made stay."""
    with transaction.atomic():
        call = Call.objects.select_related("fund").select_for_update(of=("self",)).get(pk=call.pk)
        if not is_manager(user=by, fund=call.fund):
            raise NotPermitted(_("Only the managers of a fund may choose its reviewers."))
        call.pool.exclude(reviewer__in=list(reviewers)).delete()
        for reviewer, expertise in reviewers.items():
            PoolReviewer.objects.update_or_create(
                call=call, reviewer=reviewer, defaults={"expertise": _tags(expertise)}
            )
    return list(call.pool.order_by("id"))


def call_publish(*, call: Call, by: User) -> Call:
    """Announce a draft call (version 1), by a manager of its fund; it needs a rubric."""
    with transaction.atomic():
        call = _lock_draft_call(call, by=by)
        _check_envelope(call)  # the fund's budget may have shrunk since the draft was saved
        if not call.criteria.exists():
            raise CallRefused(_("Give the call a rubric before publishing it."), code="rubric_missing")
        call.status = Call.Status.PUBLISHED
        call.published_at = timezone.now()
        call.save()
        publish(CallPublished.of(call), key=call.pk)
    return call


def _lock_draft_call(call: Call, *, by: User) -> Call:
    call = Call.objects.select_related("fund").select_for_update(of=("self",)).get(pk=call.pk)
    if not is_manager(user=by, fund=call.fund):
        raise NotPermitted(_("Only the managers of a fund may change its calls."))
    if call.status != Call.Status.DRAFT:
        raise CallRefused(_("This call has already been published."), code="already_published")
    return call


def _set_call_fields(call: Call, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(CALL_FIELDS)
    if unknown:
        raise TypeError(f"not fields a manager may set: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(call, name, value.strip() if isinstance(value, str) else value)
    if "form" in fields:
        latest = call.form.versions.order_by("-number").first() if call.form else None
        if call.form and latest is None:
            raise CallRefused(
                _("Publish the application form before linking it to a call."),
                code="form_unpublished",
                errors={"form": [_("Not published yet.")]},
            )
        call.form_version = latest.number if latest else 1
    _validate(call, CallRefused, exclude=["fund", "created_by"])
    _check_envelope(call)


def _check_envelope(call: Call) -> None:
    if call.budget_envelope > call.fund.total_budget:
        raise CallRefused(
            _("The call's envelope is larger than its fund's total budget."),
            code="envelope_too_large",
            errors={"budget_envelope": [_("At most %(total)s.") % {"total": call.fund.total_budget}]},
        )


def _validate(instance: Any, refusal: type[Refused], *, exclude: list[str], prefix: str = "") -> None:
    """The model's own field and constraint checks, as a refusal naming the fields."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        errors = {f"{prefix}.{name}" if prefix else name: messages for name, messages in exc.message_dict.items()}
        raise refusal(_("Please correct the marked fields."), code="invalid", errors=errors) from None


# --- applications: drafts ------------------------------------------------------------------------
def application_create(
    *,
    call: Call,
    organisation: Organisation,
    by: User,
    title: str,
    requested_amount: Any,
    answers: Mapping[str, Any] | None = None,
    tags: Iterable[str] = (),
    co_applicants: Iterable[User] = (),
) -> Application:
    """Start a draft application of `organisation` to an open call, by one of its members, on the call's
    current form version (answers, if any, checked against it as a draft). Drafts publish nothing; the
    trail records the start."""
    if not is_member(user=by, organisation_id=organisation.pk):
        raise NotPermitted(_("Only members of an organisation may apply for it."))
    _check_eligible(call, organisation)
    amount = _amount(requested_amount, call=call, name="requested_amount")
    with transaction.atomic():
        application = Application.objects.create(
            call=call,
            organisation=organisation,
            created_by=by,
            title=_title(title),
            requested_amount=amount,
            answers=_checked_answers(form_version_of(call=call, number=call.form_version), answers or {}, {}),
            tags=_tags(tags),
            form_version=call.form_version,
        )
        _set_co_applicants(application, co_applicants)
        _trail(application, by=by, action="create", from_status="", reason="")
    return application


def application_update(
    *,
    application: Application,
    by: User,
    fields: Mapping[str, Any],
    co_applicants: Iterable[User] | None = None,
    files: Mapping[str, UploadedFile] | None = None,
) -> Application:
    """Change a draft, or an application whose applicant was asked for more information, by the applicant
    or a co-applicant. `fields` may hold title, requested_amount, answers and tags; answers are saved
    against the call's current form version and checked against it as a draft (funds.forms_builder:
    types, ranges, unknown keys; required answers wait for the submit). `files` (question name → upload)
    answer file questions: stored in private storage only when everything else is accepted."""
    unknown = set(fields) - set(APPLICATION_FIELDS)
    if unknown:
        raise TypeError(f"not fields an applicant may set: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        application = _lock(application)
        if not actors_of(user=by, application=application) & APPLICANTS:
            raise NotPermitted(_("Only the applicants may change an application."))
        if application.locked or application.status not in EDITABLE:
            raise ApplicationRefused(
                _("This application can no longer be changed (it is “%(status)s”).")
                % {"status": application.get_status_display()},
                code="not_editable",
            )
        if "title" in fields:
            application.title = _title(fields["title"])
        if "requested_amount" in fields:
            application.requested_amount = _amount(
                fields["requested_amount"], call=application.call, name="requested_amount"
            )
        if co_applicants is not None:
            _set_co_applicants(application, co_applicants)
        if "tags" in fields:
            application.tags = _tags(fields["tags"])
        # Last of the checks: new files are stored only once nothing else can refuse the change.
        if "answers" in fields or files:
            version = form_version_of(call=application.call, number=application.call.form_version)
            given = fields.get("answers", application.answers)
            application.answers = _checked_answers(version, given, files or {}, application=application, by=by)
            application.form_version = application.call.form_version
        application.save()
    return application


# --- applications: the workflow steps (funds.workflow) ------------------------------------------
def application_submit(*, application: Application, by: User) -> Application:
    """Submit a draft while its call is open (the applicant or a co-applicant); a second submit is refused."""

    def effect(locked: Application) -> None:
        _check_eligible(locked.call, locked.organisation)
        _check_complete(locked)
        locked.submitted_at = timezone.now()

    return _transit(application, by=by, action="submit", effect=effect)


def application_screen(*, application: Application, by: User) -> Application:
    """A manager takes a submitted application into screening."""
    return _transit(application, by=by, action="screen")


def application_request_information(*, application: Application, by: User, reason: str) -> Application:
    """A manager asks the applicant for more information; `reason` is the question (kept in the trail)."""
    return _transit(application, by=by, action="request_information", reason=reason)


def application_answer(*, application: Application, by: User, reason: str = "") -> Application:
    """The applicant says they have answered (their changes saved with application_update); back to
    screening, once the answers are complete again."""
    return _transit(application, by=by, action="answer", reason=reason, effect=_check_complete)


def application_start_review(*, application: Application, by: User) -> Application:
    """A manager passes the application on to review."""
    return _transit(application, by=by, action="start_review")


def application_close_review(*, application: Application, by: User) -> Application:
    """A manager closes the review once every active assignment has its review (at least one)."""

    def effect(locked: Application) -> None:
        assignments = locked.assignments.filter(revoked_at__isnull=True)
        if not assignments.exists() or assignments.filter(review__isnull=True).exists():
            raise ApplicationRefused(_("Every assigned reviewer must submit a review first."), code="reviews_missing")

    return _transit(application, by=by, action="close_review", effect=effect)


def application_approve(*, application: Application, by: User, amount: Any, reason: str) -> Application:
    """Approve with `amount` (at most the amount requested), committing it against the call's envelope and
    the fund's total; refused with BudgetExceeded if either would be exceeded. The application is locked."""

    def effect(locked: Application) -> dict[str, str]:
        approved = _amount(amount, call=locked.call, name="amount")
        if approved > locked.requested_amount:
            raise ApplicationRefused(
                _("The approved amount cannot exceed the amount requested (%(requested)s).")
                % {"requested": locked.requested_amount},
                code="invalid_amount",
                errors={"amount": [_("At most %(requested)s.") % {"requested": locked.requested_amount}]},
            )
        _commit(locked, approved)
        locked.approved_amount = approved
        locked.locked = True
        locked.decided_at = timezone.now()
        return {"approved_amount": str(approved)}

    return _transit(application, by=by, action="approve", reason=reason, effect=effect)


def application_reject(*, application: Application, by: User, reason: str) -> Application:
    """Reject in screening (ineligible) or after review, with the reason the applicant will read."""

    def effect(locked: Application) -> None:
        locked.decided_at = timezone.now()

    return _transit(application, by=by, action="reject", reason=reason, effect=effect)


def application_withdraw(*, application: Application, by: User, reason: str = "") -> Application:
    """The applicant who started it withdraws the application, at any step before a decision."""
    return _transit(application, by=by, action="withdraw", reason=reason)


def application_sign_agreement(*, application: Application, by: User) -> Application:
    """A manager records the signed agreement; the tranche plan must add up to the approved amount."""

    def effect(locked: Application) -> None:
        _check_plan_total(locked)

    return _transit(application, by=by, action="sign_agreement", effect=effect)


def application_close(*, application: Application, by: User) -> Application:
    """A manager closes a grant once the whole approved amount has been paid."""

    def effect(locked: Application) -> None:
        if locked.disbursed != locked.approved_amount:
            raise DisbursementRefused(
                _("%(left)s of the approved amount is still to be paid.")
                % {"left": locked.approved_amount - locked.disbursed},
                code="not_fully_paid",
            )

    return _transit(application, by=by, action="close", effect=effect)


def application_amend(
    *,
    application: Application,
    by: User,
    reason: str,
    approved_amount: Any,
    tranches: Sequence[Mapping[str, Any]] | None = None,
) -> Application:
    """Change a locked (approved, not closed) application's approved amount by a recorded amendment, by a
    manager with a reason. The commitment moves by the difference (BudgetExceeded if it no longer fits);
    the amount may not fall below what is already paid. `tranches` re-plans the tranches not yet paid nor
    reported on; the plan must still add up."""
    with transaction.atomic():
        application = _lock(application)
        if Actor.MANAGER not in actors_of(user=by, application=application):
            raise NotPermitted(_("Only the managers of the fund may amend an approved application."))
        if not application.locked or application.status not in COMMITTED - {S.CLOSED}:
            raise ApplicationRefused(
                _("Only approved applications that are not closed are amended."), code="not_amendable"
            )
        reason = _reason(reason)
        new = _amount(approved_amount, call=application.call, name="approved_amount")
        if new < application.disbursed:
            raise DisbursementRefused(
                _("%(paid)s has been paid already; the amount cannot be lower.") % {"paid": application.disbursed},
                code="below_disbursed",
                errors={"approved_amount": [_("At least %(paid)s.") % {"paid": application.disbursed}]},
            )
        before = application.approved_amount
        _commit(application, new - before)
        application.approved_amount = new
        if tranches is not None:
            _replan(application, tranches)
        if application.tranches.exists():
            _check_plan_total(application)
        application.save()
        _trail(
            application,
            by=by,
            action="amend",
            from_status=application.status,
            reason=reason,
            details={"approved_amount": [str(before), str(new)], "replanned": tranches is not None},
        )
        publish(ApplicationAmended.of(application, at=timezone.now().isoformat()), key=application.pk)
    return application


# --- conflicts and review ------------------------------------------------------------------------
def conflict_declare(
    *, by: User, reason: str, application: Application | None = None, organisation: Organisation | None = None
) -> Conflict:
    """A reviewer declares their own conflict with one application or a whole organisation; their
    assignments to what it covers are revoked at once."""
    return _conflict_add(reviewer=by, by=by, reason=reason, application=application, organisation=organisation)


def conflict_record(
    *,
    by: User,
    reviewer: User,
    reason: str,
    application: Application | None = None,
    organisation: Organisation | None = None,
) -> Conflict:
    """A manager records a reviewer's conflict: with an application of their fund, or with an
    organisation (any fund manager, since it holds for every fund)."""
    if application is not None:
        may = is_manager(user=by, fund=application.call.fund)
    else:
        may = managed_funds(user=by).exists()
    if not may:
        raise NotPermitted(_("Only the fund's managers may record a reviewer's conflict."))
    return _conflict_add(reviewer=reviewer, by=by, reason=reason, application=application, organisation=organisation)


def review_assign(*, application: Application, reviewer: User, by: User) -> ReviewAssignment:
    """A manager assigns a reviewer of the call's pool by hand (overriding load and expertise, never a
    conflict)."""
    with transaction.atomic():
        application = _lock(application)
        _check_assigning(application, by)
        if not PoolReviewer.objects.filter(call_id=application.call_id, reviewer=reviewer).exists():
            raise ReviewRefused(_("This reviewer is not in the call's reviewer pool."), code="not_in_pool")
        if reviewer.pk in conflicted_reviewers(applications=[application])[application.pk]:
            raise ReviewRefused(_("This reviewer has a conflict of interest with the application."), code="conflicted")
        if active_assignment(user=reviewer, application=application):
            raise ReviewRefused(_("This reviewer is already assigned."), code="already_assigned")
        return _assign(application, reviewer_id=reviewer.pk, by=by, manual=True)


@dataclass
class AssignmentResult:
    """What automatic assignment did: the assignments it made, and per application how many reviewers
    it still lacks because the pool had no more without a conflict and with the expertise."""

    assigned: list[ReviewAssignment] = field(default_factory=list)
    short: dict[int, int] = field(default_factory=dict)


def review_assign_automatically(*, call: Call, by: User) -> AssignmentResult:
    """Give every application of the call in review its `reviewers_per_application` reviewers from the
    pool: never a conflicted one; where an application has topics, only reviewers whose expertise shares
    one; among those, the least loaded in this call first (ties by pool order). Applications are served
    oldest first; runs are serialised by the locks on the applications, then on the call (the services'
    lock order)."""
    if not is_manager(user=by, fund=call.fund):
        raise NotPermitted(_("Only the fund's managers may assign reviewers."))
    result = AssignmentResult()
    with transaction.atomic():
        applications = list(
            Application.objects.select_for_update().filter(call=call, status=S.IN_REVIEW).order_by("submitted_at", "id")
        )
        call = Call.objects.select_for_update().get(pk=call.pk)
        pool = list(PoolReviewer.objects.filter(call=call).order_by("id"))
        conflicted = conflicted_reviewers(applications=applications)
        active = ReviewAssignment.objects.filter(application__call=call, revoked_at__isnull=True)
        load = {member.reviewer_id: 0 for member in pool}
        assigned: dict[int, set[int]] = {application.pk: set() for application in applications}
        for application_id, reviewer_id in active.values_list("application_id", "reviewer_id"):
            assigned[application_id] = assigned.get(application_id, set()) | {reviewer_id}
            if reviewer_id in load:
                load[reviewer_id] += 1
        for application in applications:
            need = call.reviewers_per_application - len(assigned[application.pk])
            if need <= 0:
                continue
            topics = set(application.tags)
            candidates = [
                member
                for member in pool
                if member.reviewer_id not in conflicted[application.pk]
                and member.reviewer_id not in assigned[application.pk]
                and (not topics or topics & set(member.expertise))
            ]
            candidates.sort(key=lambda member: load[member.reviewer_id])  # stable: pool order breaks ties
            for member in candidates[:need]:
                result.assigned.append(_assign(application, reviewer_id=member.reviewer_id, by=by, manual=False))
                load[member.reviewer_id] += 1
            if len(candidates) < need:
                result.short[application.pk] = need - len(candidates)
    return result


def review_unassign(*, assignment: ReviewAssignment, by: User, reason: str) -> ReviewAssignment:
    """A manager takes an assignment back, with a reason; its review, if any, no longer counts."""
    with transaction.atomic():
        application = _lock(assignment.application)
        _check_assigning(application, by, statuses=(S.IN_REVIEW, S.DECISION_PENDING))
        assignment = ReviewAssignment.objects.select_for_update().get(pk=assignment.pk)
        if assignment.revoked_at is not None:
            raise ReviewRefused(_("This assignment was already taken back."), code="already_revoked")
        assignment.revoked_at = timezone.now()
        assignment.revoked_reason = _reason(reason)
        assignment.save(update_fields=["revoked_at", "revoked_reason"])
        _trail(
            application,
            by=by,
            action="unassign",
            from_status=application.status,
            reason=assignment.revoked_reason,
            details={"assignment_id": assignment.pk},
        )
    return assignment


def review_submit(*, assignment: ReviewAssignment, by: User, scores: Mapping[Any, Any], comment: str = "") -> Review:
    """The assigned reviewer submits their one review while the application is in review: a score for
    every criterion of the call's rubric, each a whole number from 0 to the criterion's highest. The total
    weighs each score by its criterion's weight, on a scale of 100."""
    with transaction.atomic():
        application = _lock(assignment.application)
        assignment = ReviewAssignment.objects.select_for_update().get(pk=assignment.pk)
        if assignment.reviewer_id != by.pk or Actor.REVIEWER not in actors_of(user=by, application=application):
            raise NotPermitted(_("Only the assigned reviewer may review this application."))
        if application.status != S.IN_REVIEW:
            raise ReviewRefused(_("This application is not in review."), code="not_in_review")
        if Review.objects.filter(assignment=assignment).exists():
            raise ReviewRefused(_("You have already submitted your review."), code="already_reviewed")
        clean, total = _score(application.call, scores)
        review = Review.objects.create(assignment=assignment, scores=clean, comment=comment.strip(), total=total)
        publish(
            ReviewSubmitted.of(review, recipients=_recipients(manager_ids(application=application), by=by)),
            key=application.pk,
        )
    return review


# --- disbursement --------------------------------------------------------------------------------
def tranches_plan(*, application: Application, by: User, tranches: Sequence[Mapping[str, Any]]) -> list[Tranche]:
    """A manager splits an approved application's amount into tranches, before the agreement is signed:
    each {milestone, milestone_en?, amount, due}; together exactly the approved amount. Replaces any
    earlier plan (later changes go through application_amend)."""
    with transaction.atomic():
        application = _lock(application)
        if Actor.MANAGER not in actors_of(user=by, application=application):
            raise NotPermitted(_("Only the fund's managers may plan tranches."))
        if application.status != S.APPROVED:
            raise DisbursementRefused(
                _("Tranches are planned after approval and before the agreement is signed."), code="wrong_status"
            )
        _replan(application, tranches)
        _check_plan_total(application)
        _trail(application, by=by, action="plan_tranches", from_status=application.status, reason="")
    return list(application.tranches.order_by("position"))


def milestone_report_submit(*, tranche: Tranche, by: User, text: str) -> MilestoneReport:
    """The applicant or a co-applicant reports on a tranche's milestone once the agreement is signed; one
    report at a time waits for the manager, and none after the tranche's report was accepted."""
    with transaction.atomic():
        application = _lock(tranche.application)
        if not actors_of(user=by, application=application) & APPLICANTS:
            raise NotPermitted(_("Only the applicants report on milestones."))
        if application.status not in (S.AGREEMENT, S.DISBURSING):
            raise DisbursementRefused(_("Milestones are reported once the agreement is signed."), code="wrong_status")
        if tranche.reports.filter(
            status__in=[MilestoneReport.Status.SUBMITTED, MilestoneReport.Status.ACCEPTED]
        ).exists():
            raise DisbursementRefused(
                _("A report on this milestone is already waiting or accepted."), code="report_exists"
            )
        if not text.strip():
            raise DisbursementRefused(
                _("Please describe what was achieved."), code="invalid", errors={"text": [_("Required.")]}
            )
        report = MilestoneReport.objects.create(tranche=tranche, text=text.strip(), submitted_by=by)
        managers = _recipients(manager_ids(application=application), by=by)
        publish(MilestoneReported.of(report, recipients=managers), key=application.pk)
        return report


def milestone_report_review(*, report: MilestoneReport, by: User, accept: bool, comment: str = "") -> MilestoneReport:
    """A manager accepts a milestone report (the tranche may then be paid) or returns it with a comment."""
    with transaction.atomic():
        application = _lock(report.tranche.application)
        if Actor.MANAGER not in actors_of(user=by, application=application):
            raise NotPermitted(_("Only the fund's managers review milestone reports."))
        report = MilestoneReport.objects.select_for_update().get(pk=report.pk)
        if report.status != MilestoneReport.Status.SUBMITTED:
            raise DisbursementRefused(_("This report has already been reviewed."), code="already_reviewed")
        if not accept and not comment.strip():
            raise DisbursementRefused(
                _("Say what the report lacks."), code="invalid", errors={"comment": [_("Required.")]}
            )
        report.status = MilestoneReport.Status.ACCEPTED if accept else MilestoneReport.Status.RETURNED
        report.reviewed_by = by
        report.reviewed_at = timezone.now()
        report.comment = comment.strip()
        report.save()
        _trail(
            application,
            by=by,
            action="accept_report" if accept else "return_report",
            from_status=application.status,
            reason=report.comment,
            details={"tranche_id": report.tranche_id},
        )
        applicants = _recipients(applicant_ids(application=application), by=by)
        publish(MilestoneReviewed.of(report, recipients=applicants), key=application.pk)
    return report


def tranche_pay(*, tranche: Tranche, by: User, reference: str) -> Payment:
    """A manager records the payment of a tranche whose milestone report was accepted, with its unique
    reference. The amounts disbursed of the application, call and fund grow by the tranche's amount; the
    first payment moves the application to disbursing."""
    reference = reference.strip()
    with transaction.atomic():
        application = _lock(tranche.application)
        if Actor.MANAGER not in actors_of(user=by, application=application):
            raise NotPermitted(_("Only the fund's managers record payments."))
        if application.status not in (S.AGREEMENT, S.DISBURSING):
            raise DisbursementRefused(_("Tranches are paid once the agreement is signed."), code="wrong_status")
        tranche = Tranche.objects.select_for_update().get(pk=tranche.pk)
        if Payment.objects.filter(tranche=tranche).exists():
            raise DisbursementRefused(_("This tranche has already been paid."), code="already_paid")
        if not tranche.reports.filter(status=MilestoneReport.Status.ACCEPTED).exists():
            raise DisbursementRefused(
                _("The tranche is paid only after its milestone report is accepted."), code="milestone_not_accepted"
            )
        if not reference:
            raise DisbursementRefused(
                _("Enter the payment reference."), code="invalid", errors={"reference": [_("Required.")]}
            )
        call, fund = _lock_budgets(application)
        if application.disbursed + tranche.amount > application.approved_amount:
            raise BudgetExceeded(_("This payment would exceed the approved amount."), code="approved_exceeded")
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    tranche=tranche, reference=reference, amount=tranche.amount, recorded_by=by
                )
        except IntegrityError:
            raise DisbursementRefused(
                _("This payment reference has been recorded already."),
                code="duplicate_reference",
                errors={"reference": [_("Already used.")]},
            ) from None
        for holder in (application, call, fund):
            holder.disbursed += tranche.amount
        call.save(update_fields=["disbursed"])
        fund.save(update_fields=["disbursed"])
        application.save(update_fields=["disbursed", "updated_at"])
        _trail(
            application,
            by=by,
            action="pay",
            from_status=application.status,
            reason="",
            details={"tranche_id": tranche.pk, "amount": str(tranche.amount), "reference": reference},
        )
        publish(
            TranchePaid.of(tranche, recipients=_recipients(applicant_ids(application=application), by=by)),
            key=application.pk,
        )
        if application.status == S.AGREEMENT:
            step = transition("start_disbursing")
            _check_step(application, by, step, "")
            _advance(application, by=by, step=step, reason="")
    return payment


# --- helpers ---------------------------------------------------------------------------------------
def _lock(application: Application) -> Application:
    """The application's row, locked and fresh, with its call and fund (not locked: _lock_budgets)."""
    return (
        Application.objects.select_related("call__fund", "organisation")
        .select_for_update(of=("self",))
        .get(pk=application.pk)
    )


def _lock_budgets(application: Application) -> tuple[Call, Fund]:
    """Lock the call, then the fund (always in this order, after the application)."""
    call = Call.objects.select_for_update().get(pk=application.call_id)
    fund = Fund.objects.select_for_update().get(pk=call.fund_id)
    return call, fund


def _commit(application: Application, delta: Decimal) -> None:
    """Move the committed figures of the application's call and fund by `delta`, refusing to go past the
    call's envelope or the fund's total."""
    call, fund = _lock_budgets(application)
    if call.committed + delta > call.budget_envelope:
        raise BudgetExceeded(
            _("Only %(left)s of the call's envelope is left.") % {"left": call.remaining}, code="envelope_exceeded"
        )
    if fund.committed + delta > fund.total_budget:
        raise BudgetExceeded(
            _("Only %(left)s of the fund's budget is left.") % {"left": fund.remaining}, code="fund_exceeded"
        )
    call.committed += delta
    fund.committed += delta
    call.save(update_fields=["committed"])
    fund.save(update_fields=["committed"])
    application.call = call


def _transit(
    application: Application,
    *,
    by: User,
    action: str,
    reason: str = "",
    effect: Callable[[Application], dict[str, Any] | None] | None = None,
) -> Application:
    """Take one step of the workflow table in one transaction: lock, check the actor and the status, run
    the step's own effect (which may refuse), then save, append to the trail and publish."""
    step = transition(action)
    with transaction.atomic():
        application = _lock(application)
        reason = _check_step(application, by, step, reason)
        details = effect(application) if effect else None
        _advance(application, by=by, step=step, reason=reason, details=details)
    return application


def _check_step(application: Application, by: User, step: Transition, reason: str) -> str:
    """Refuse a step the actor may not take or the status does not allow; the cleaned reason."""
    if not actors_of(user=by, application=application) & step.actors:
        raise NotPermitted(_("You may not %(action)s this application.") % {"action": step.label})
    if application.status not in step.sources:
        if step.action == "submit":
            raise ApplicationRefused(_("This application has already been submitted."), code="already_submitted")
        raise ApplicationRefused(
            _("The application is “%(status)s”: it cannot %(action)s now.")
            % {"status": application.get_status_display(), "action": step.label},
            code="wrong_status",
        )
    return _reason(reason) if step.needs_reason else reason.strip()


def _advance(
    application: Application, *, by: User, step: Transition, reason: str, details: dict[str, Any] | None = None
) -> None:
    from_status = application.status
    application.status = step.target
    application.save()
    at = _trail(application, by=by, action=step.action, from_status=from_status, reason=reason, details=details)
    applicants = applicant_ids(application=application) if step.fact in TELL_APPLICANTS else set()
    managers = manager_ids(application=application) if step.fact in TELL_MANAGERS else set()
    event = STEP_EVENTS[step.fact].of(
        application,
        from_status=from_status,
        at=at.isoformat(),
        reason=reason,
        recipients=_recipients(applicants | managers, by=by),
        managers=_recipients(managers, by=by),
    )
    publish(event, key=application.pk)


# Who hears of which step (hub.notifications.kinds says what); nobody hears of the other steps.
TELL_APPLICANTS = frozenset({"submitted", "more_information_requested", "decided", "agreement_signed", "closed"})
TELL_MANAGERS = frozenset({"submitted", "information_provided", "withdrawn"})


def _recipients(ids: set[int], *, by: User) -> list[int]:
    """Whom the notifier tells: the active users among `ids`, never `by` (nobody hears of their own act)."""
    return sorted(User.objects.filter(pk__in=ids - {by.pk}, is_active=True).values_list("pk", flat=True))


def _trail(
    application: Application,
    *,
    by: User,
    action: str,
    from_status: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> Any:
    """Append one line to the audit trail; its time."""
    entry = ApplicationEvent.objects.create(
        application=application,
        actor=by,
        action=action,
        from_status=from_status,
        to_status=application.status,
        reason=reason,
        details=details or {},
    )
    return entry.at


def _amount(value: Any, *, call: Call, name: str, refusal: type[Refused] = ApplicationRefused) -> Decimal:
    """A money amount in CNY: a number above zero, to the fen, and no larger than the call's whole
    envelope (anything more is a typo, not a request)."""
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise refusal(
            _("Enter an amount in yuan, e.g. 500000.00."), code="invalid_amount", errors={name: [_("Not a number.")]}
        )
    if amount <= 0:
        raise refusal(
            _("The amount must be more than zero."), code="invalid_amount", errors={name: [_("More than zero.")]}
        )
    ceiling = min(call.budget_envelope, Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - CENT)
    if amount > ceiling:  # before quantize(), which fails on numbers this large
        raise refusal(
            _("%(amount)s is more than the call's whole envelope of %(envelope)s.")
            % {"amount": amount, "envelope": call.budget_envelope},
            code="invalid_amount",
            errors={name: [_("At most %(envelope)s.") % {"envelope": call.budget_envelope}]},
        )
    if amount != amount.quantize(CENT):
        raise refusal(
            _("Amounts are in yuan to the fen (two decimal places)."),
            code="invalid_amount",
            errors={name: [_("At most two decimal places.")]},
        )
    return amount.quantize(CENT)


def _check_eligible(call: Call, organisation: Organisation) -> None:
    """The call takes applications now, and from this organisation's kind and region."""
    if not call.is_open():
        if call.status == Call.Status.PUBLISHED and timezone.now() >= call.closes_at:
            raise ApplicationRefused(
                _("The call closed on %(date)s; applications can no longer be submitted.")
                % {"date": timezone.localtime(call.closes_at).strftime("%Y-%m-%d %H:%M")},
                code="call_closed",
            )
        raise ApplicationRefused(_("This call is not open for applications yet."), code="call_not_open")
    if call.eligible_kinds and organisation.kind not in call.eligible_kinds:
        raise ApplicationRefused(
            _("This call is not open to organisations of the kind “%(kind)s”.")
            % {"kind": organisation.get_kind_display()},
            code="not_eligible",
        )
    if call.eligible_regions and organisation.region not in call.eligible_regions:
        raise ApplicationRefused(
            _("This call is open to organisations in %(regions)s only.")
            % {"regions": "、".join(call.eligible_regions)},
            code="not_eligible",
        )


def _set_co_applicants(application: Application, users: Iterable[User]) -> None:
    users = list(users)
    outsiders = [user for user in users if not is_member(user=user, organisation_id=application.organisation_id)]
    if outsiders:
        raise ApplicationRefused(
            _("Co-applicants must be members of the applicant organisation: %(names)s")
            % {"names": "、".join(str(user) for user in outsiders)},
            code="invalid",
            errors={"co_applicants": [_("Not a member of the organisation.")]},
        )
    application.co_applicants.set([user for user in users if user.pk != application.created_by_id])


def _title(value: str) -> str:
    title = " ".join(str(value).split())
    if not title or len(title) > 200:
        raise ApplicationRefused(
            _("Give the project a title of at most 200 characters."),
            code="invalid",
            errors={"title": [_("1 to 200 characters.")]},
        )
    return title


def _answers(value: Any) -> dict[str, Any]:
    """Answers are an object of question → answer (checked against the form by _checked_answers)."""
    if not isinstance(value, Mapping):
        raise ApplicationRefused(
            _("The answers could not be read; please fill in the form again."),
            code="invalid",
            errors={"answers": [_("Not a set of answers.")]},
        )
    return dict(value)


def _checked_answers(
    version: FormVersion | None,
    answers: Any,
    uploads: Mapping[str, UploadedFile],
    *,
    application: Application | None = None,
    by: User | None = None,
    complete: bool = False,
) -> dict[str, Any]:
    """The answers checked against the form version (a call without a form takes any object), with
    new uploads stored as attachments and each file answer naming its attachment. Stores nothing if
    anything is refused."""
    answers = _answers(answers)
    if version is None:
        if uploads:
            raise ApplicationRefused(_("This call's form asks for no files."), code="invalid_answers")
        return answers
    files: dict[str, Any] = {**(stored_files(application=application) if application else {}), **uploads}
    try:
        clean = answers_validate(version.fields, answers, files, complete=complete)
    except AnswersInvalid as invalid:
        raise ApplicationRefused(
            _("Please correct the marked answers."), code="invalid_answers", errors=invalid.errors
        ) from None
    for name, upload in uploads.items():
        if name in clean:
            assert application is not None and by is not None, "files are only attached to an application"
            attachment = Attachment(
                application=application,
                question=name,
                original_name=clean[name]["name"],
                size=clean[name]["size"],
                uploaded_by=by,
            )
            attachment.file.save(clean[name]["name"], upload, save=False)
            attachment.save()
            files[name] = StoredFile(attachment.original_name, attachment.size, attachment.pk)
    for name, value in clean.items():
        stored = files.get(name)
        if isinstance(stored, StoredFile):
            clean[name] = {**value, "attachment": stored.attachment_id}
    return clean


def _check_complete(application: Application) -> None:
    """Every shown required question answered, on the version the answers were given on."""
    version = form_version_of(call=application.call, number=application.form_version)
    if version is not None:
        _checked_answers(version, application.answers, {}, application=application, complete=True)


def form_version_freeze(*, form: ApplicationForm) -> FormVersion:
    """Freeze the form's (just published) questions as its next version, and make that the version new
    answers to its calls are given on. Applications keep the version they were given on."""
    with transaction.atomic():
        form = ApplicationForm.objects.select_for_update().get(pk=form.pk)
        latest = form.versions.order_by("-number").first()
        version = FormVersion.objects.create(
            form=form, number=(latest.number + 1) if latest else 1, fields=definitions(form.fields)
        )
        Call.objects.filter(form=form).update(form_version=version.number)
    return version


def _tags(values: Iterable[str]) -> list[str]:
    return sorted({" ".join(str(tag).split()) for tag in values} - {""})


def _reason(value: str) -> str:
    reason = value.strip()
    if not reason:
        raise ApplicationRefused(
            _("Please give a reason; it is kept in the application's record."),
            code="reason_required",
            errors={"reason": [_("Required.")]},
        )
    return reason


def _conflict_add(
    *, reviewer: User, by: User, reason: str, application: Application | None, organisation: Organisation | None
) -> Conflict:
    if not reviewer.is_authenticated or not by.is_authenticated:
        raise NotPermitted(_("Sign in to declare a conflict of interest."))
    if (application is None) == (organisation is None):
        raise TypeError("a conflict is with one application or one organisation")
    with transaction.atomic():
        # Assignments being made now wait for these locks, then see the conflict.
        if application is not None:
            application = _lock(application)
        else:
            list(Application.objects.select_for_update().filter(organisation=organisation).order_by("id"))
        conflict, _created = Conflict.objects.get_or_create(
            reviewer=reviewer,
            application=application,
            organisation=organisation,
            defaults={"reason": _reason(reason), "recorded_by": by},
        )
        covered = {"application": application} if application else {"application__organisation": organisation}
        ReviewAssignment.objects.filter(reviewer=reviewer, revoked_at__isnull=True, **covered).update(
            revoked_at=timezone.now(), revoked_reason=_("Conflict of interest")
        )
    return conflict


def _check_assigning(application: Application, by: User, statuses: Sequence[str] = (S.IN_REVIEW,)) -> None:
    if Actor.MANAGER not in actors_of(user=by, application=application):
        raise NotPermitted(_("Only the fund's managers may assign reviewers."))
    if application.status not in statuses:
        raise ReviewRefused(_("Reviewers are assigned while the application is in review."), code="not_in_review")


def _assign(application: Application, *, reviewer_id: int, by: User, manual: bool) -> ReviewAssignment:
    assignment = ReviewAssignment.objects.create(
        application=application, reviewer_id=reviewer_id, assigned_by=by, manual=manual
    )
    publish(ReviewAssigned.of(assignment, recipients=_recipients({reviewer_id}, by=by)), key=application.pk)
    return assignment


def _score(call: Call, scores: Mapping[Any, Any]) -> tuple[dict[str, int], Decimal]:
    """The scores keyed by criterion id (as text) and the weighted total out of 100, or ReviewRefused."""
    criteria = {str(criterion.pk): criterion for criterion in call.criteria.all()}
    given = {str(key): value for key, value in scores.items()}
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for key, criterion in criteria.items():
        value = given.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= criterion.max_score:
            errors[key] = [_("A whole number from 0 to %(max)d.") % {"max": criterion.max_score}]
        else:
            clean[key] = value
    for key in set(given) - set(criteria):
        errors[key] = [_("Not a criterion of this call's rubric.")]
    if errors or not criteria:
        raise ReviewRefused(_("Score every criterion of the rubric."), code="invalid_scores", errors=errors)
    weights = sum(criterion.weight for criterion in criteria.values())
    total = sum(criterion.weight * clean[key] / criterion.max_score for key, criterion in criteria.items())
    return clean, (Decimal(100) * total / weights).quantize(CENT, rounding=ROUND_HALF_UP)


def _replan(application: Application, tranches: Sequence[Mapping[str, Any]]) -> None:
    """Replace the tranches nobody has reported on or been paid for with `tranches`, numbered after the
    ones kept."""
    open_tranches = application.tranches.filter(payment__isnull=True, reports__isnull=True)
    open_tranches.delete()
    kept = application.tranches.order_by("-position").first()
    position = kept.position if kept else 0
    for spec in tranches:
        position += 1
        try:
            amount = _amount(spec["amount"], call=application.call, name="tranches", refusal=DisbursementRefused)
            milestone = " ".join(str(spec["milestone"]).split())
            due = spec["due"]
        except KeyError as missing:
            raise DisbursementRefused(
                _("Each tranche needs a milestone, an amount and a due date."),
                code="invalid",
                errors={"tranches": [_("%(field)s is missing.") % {"field": missing}]},
            ) from None
        if not milestone:
            raise DisbursementRefused(
                _("Each tranche needs a milestone."), code="invalid", errors={"tranches": [_("Milestone missing.")]}
            )
        Tranche.objects.create(
            application=application,
            position=position,
            milestone=milestone,
            milestone_en=str(spec.get("milestone_en", "")).strip(),
            amount=amount,
            due=due,
        )


def _check_plan_total(application: Application) -> None:
    planned = sum((t.amount for t in application.tranches.all()), ZERO)
    if planned != application.approved_amount:
        raise DisbursementRefused(
            _("The tranches add up to %(planned)s, not the approved %(approved)s.")
            % {"planned": planned, "approved": application.approved_amount},
            code="plan_mismatch",
            errors={"tranches": [_("They must add up to the approved amount.")]},
        )


# --- the fast track ------------------------------------------------------------------------------------
def fast_track_invite(
    *, competition_id: int, phase_id: int, ranking: Sequence[Mapping[str, Any]]
) -> list[FastTrackInvitation]:
    """Invite the organisations of a closed phase's top teams to every published, not yet closed call
    linked to the competition (its `fast_track_top` best ranks; teams without an organisation are passed
    over). Runs from the consumer, in its transaction; an organisation is invited to a call once, so a
    redelivered or repeated closing invites nobody twice."""
    invited: list[FastTrackInvitation] = []
    calls = Call.objects.select_for_update().filter(
        fast_track_competition_id=competition_id,
        fast_track_top__gt=0,
        status=Call.Status.PUBLISHED,
        closes_at__gt=timezone.now(),
    )
    ranked = sorted(ranking, key=lambda entry: entry["rank"])
    for call in calls:
        for entry in [e for e in ranked if e["rank"] <= call.fast_track_top and e.get("organisation_id")]:
            organisation = Organisation.objects.filter(pk=entry["organisation_id"]).first()
            if organisation is None:
                continue
            invitation, created = FastTrackInvitation.objects.get_or_create(
                call=call,
                organisation=organisation,
                defaults={
                    "competition_id": competition_id,
                    "phase_id": phase_id,
                    "team_name": entry["team_name"],
                    "rank": entry["rank"],
                },
            )
            if created:
                publish(FastTrackInvited.of(invitation), key=call.pk)
                invited.append(invitation)
    return invited

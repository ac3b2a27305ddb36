"""Events the funds context publishes (topic `funds`); each type's JSON Schema sits in schemas/.

Keys: a call's events are keyed by the call id; an application's, its reviews' and its tranches' by the
application id, so that consumers see them in the order they happened. Events carry ids, statuses and
amounts (as decimal strings, never floats): no answers, review comments or internal reasons, which stay
behind the selectors' permission checks; the only text a manager wrote that travels is what they
addressed to the applicants (a question, a decision's reason), for the notifier to pass on to them.
Events that tell people something also carry what the notifier says:
`recipients` (user ids, chosen by funds.services, never the actor), the titles of the call and the
application and the page to open, in the default language; never who applied, which a blind call's
reviewers may not learn. The fields added for the notifier are optional in the schemas (v1 events
written before them decode, and tell nobody).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from hub.events.registry import Event, event_type, handles

if TYPE_CHECKING:
    from funds.models import Application, Call, FastTrackInvitation, MilestoneReport, Review, ReviewAssignment, Tranche

CONSUMER = "funds"


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def default_language_path(name: str, *args: object) -> str:
    """A funds page's path in the default language, whatever language the request that acted was in:
    readers of the event localise it themselves (hub.i18n.path_for_reader)."""
    with translation.override(settings.LANGUAGE_CODE):
        return reverse(name, args=args)


@event_type("funds.call.published.v1")
@dataclass(frozen=True)
class CallPublished(Event):
    """A call opened for applications was announced (its revision is `version`), with what search and the
    portal show of it: texts, fund, window and `url`, the call's page in the default language."""

    call_id: int
    fund_id: int
    fund_kind: str
    version: int
    title: str
    title_en: str
    opens_at: str
    closes_at: str
    budget_envelope: str
    eligible_kinds: list[str]
    eligible_regions: list[str]
    published_at: str
    description: str
    description_en: str
    fund_name: str
    fund_name_en: str
    url: str

    @classmethod
    def of(cls, call: Call) -> Self:
        assert call.published_at is not None
        return cls(
            call_id=call.pk,
            fund_id=call.fund_id,
            fund_kind=call.fund.kind,
            version=call.revision,
            title=call.title,
            title_en=call.title_en,
            opens_at=call.opens_at.isoformat(),
            closes_at=call.closes_at.isoformat(),
            budget_envelope=_amount(call.budget_envelope) or "0.00",
            eligible_kinds=list(call.eligible_kinds),
            eligible_regions=list(call.eligible_regions),
            published_at=call.published_at.isoformat(),
            description=call.description,
            description_en=call.description_en,
            fund_name=call.fund.name,
            fund_name_en=call.fund.name_en,
            url=f"/funds/calls/{call.pk}/",  # the call's page in the default language
        )


@dataclass(frozen=True)
class ApplicationStep(Event):
    """An application took a step of the workflow (funds.workflow): from which status to which, when.
    `organisation_id` is the applicant organisation. `recipients` are the people the notifier tells of
    this step (funds.services decides who: the applicants, or the fund's managers, never the actor);
    `url` is the applicants' page of the application, `manage_url` the managers'."""

    application_id: int
    call_id: int
    fund_id: int
    organisation_id: int
    from_status: str
    to_status: str
    at: str
    # What the notifier says: keyword-only (step events add required fields after it) and optional
    # (events written before these fields decode, and tell nobody).
    _: KW_ONLY
    title: str = ""
    call_title: str = ""
    url: str = ""
    manage_url: str = ""
    recipients: list[int] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        application: Application,
        *,
        from_status: str,
        at: str,
        reason: str = "",
        recipients: Iterable[int],
        managers: Iterable[int] = (),
    ) -> Self:
        """The step's event; `reason` is what the actor wrote, `managers` those of `recipients` told as
        the fund's managers (each step's event keeps what it carries of them: `own`)."""
        return cls(
            application_id=application.pk,
            call_id=application.call_id,
            fund_id=application.call.fund_id,
            organisation_id=application.organisation_id,
            from_status=from_status,
            to_status=application.status,
            at=at,
            title=application.title,
            call_title=application.call.title,
            url=default_language_path("funds:application", application.pk),
            manage_url=default_language_path("funds_manage:application", application.pk),
            recipients=sorted(set(recipients)),
            **cls.own(application, reason=reason, managers=managers),
        )

    @classmethod
    def own(cls, application: Application, *, reason: str, managers: Iterable[int]) -> dict[str, Any]:
        """The fields this step's event adds to those of every step."""
        return {}


@event_type("funds.application.submitted.v1")
@dataclass(frozen=True)
class ApplicationSubmitted(ApplicationStep):
    """The applicant submitted the application: the other applicants get their receipt, the fund's
    managers (`managers`, the rest of `recipients`) hear of a new application."""

    managers: list[int] = field(default_factory=list)

    @classmethod
    def own(cls, application: Application, *, reason: str, managers: Iterable[int]) -> dict[str, Any]:
        return {"managers": sorted(set(managers))}


@event_type("funds.application.screened.v1")
@dataclass(frozen=True)
class ApplicationScreened(ApplicationStep):
    """A manager took the application into screening."""


@event_type("funds.application.more_information_requested.v1")
@dataclass(frozen=True)
class ApplicationMoreInformationRequested(ApplicationStep):
    """A manager asked the applicants for more information; `question` is what they asked, which the
    notifier passes on to the applicants (who read it on their page too)."""

    question: str = ""

    @classmethod
    def own(cls, application: Application, *, reason: str, managers: Iterable[int]) -> dict[str, Any]:
        return {"question": reason}


@event_type("funds.application.information_provided.v1")
@dataclass(frozen=True)
class ApplicationInformationProvided(ApplicationStep):
    """The applicant answered; the application is back in screening."""


@event_type("funds.application.review_started.v1")
@dataclass(frozen=True)
class ApplicationReviewStarted(ApplicationStep):
    """The application passed screening and goes to its reviewers."""


@event_type("funds.application.review_closed.v1")
@dataclass(frozen=True)
class ApplicationReviewClosed(ApplicationStep):
    """Its reviews are in; a decision is pending."""


@event_type("funds.application.decided.v1")
@dataclass(frozen=True)
class ApplicationDecided(ApplicationStep):
    """Approved (with the amount committed) or rejected; `reason` is the manager's reason, written for the
    applicants, whom the notifier tells."""

    decision: str
    approved_amount: str | None
    reason: str = ""

    @classmethod
    def own(cls, application: Application, *, reason: str, managers: Iterable[int]) -> dict[str, Any]:
        return {
            "decision": application.status,
            "approved_amount": _amount(application.approved_amount),
            "reason": reason,
        }


@event_type("funds.application.withdrawn.v1")
@dataclass(frozen=True)
class ApplicationWithdrawn(ApplicationStep):
    """The applicant withdrew the application before a decision."""


@event_type("funds.application.agreement_signed.v1")
@dataclass(frozen=True)
class ApplicationAgreementSigned(ApplicationStep):
    """The grant agreement is signed; tranches may be paid as their milestones are accepted."""


@event_type("funds.application.disbursing_started.v1")
@dataclass(frozen=True)
class ApplicationDisbursingStarted(ApplicationStep):
    """The first tranche was paid."""


@event_type("funds.application.closed.v1")
@dataclass(frozen=True)
class ApplicationClosed(ApplicationStep):
    """Every tranche is paid; the grant is closed."""


# The event each workflow step publishes, by the fact its transition names.
STEP_EVENTS: dict[str, type[ApplicationStep]] = {
    cls.type_name.split(".")[2]: cls
    for cls in (
        ApplicationSubmitted,
        ApplicationScreened,
        ApplicationMoreInformationRequested,
        ApplicationInformationProvided,
        ApplicationReviewStarted,
        ApplicationReviewClosed,
        ApplicationDecided,
        ApplicationWithdrawn,
        ApplicationAgreementSigned,
        ApplicationDisbursingStarted,
        ApplicationClosed,
    )
}


@event_type("funds.application.amended.v1")
@dataclass(frozen=True)
class ApplicationAmended(Event):
    """A locked (approved) application was changed by a recorded amendment; `approved_amount` is the
    amount committed now."""

    application_id: int
    call_id: int
    fund_id: int
    approved_amount: str
    at: str

    @classmethod
    def of(cls, application: Application, *, at: str) -> Self:
        return cls(
            application_id=application.pk,
            call_id=application.call_id,
            fund_id=application.call.fund_id,
            approved_amount=_amount(application.approved_amount) or "0.00",
            at=at,
        )


@event_type("funds.review.assigned.v1")
@dataclass(frozen=True)
class ReviewAssigned(Event):
    """A reviewer was asked to review an application (by the automatic assignment or by hand); the
    reviewer (`recipients`, unless they assigned themselves) is told, with the titles a blind reviewer may
    read and `url`, their review page."""

    assignment_id: int
    application_id: int
    call_id: int
    reviewer_id: int
    manual: bool
    at: str
    title: str = ""
    call_title: str = ""
    url: str = ""
    recipients: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, assignment: ReviewAssignment, *, recipients: Iterable[int]) -> Self:
        application = assignment.application
        return cls(
            assignment_id=assignment.pk,
            application_id=application.pk,
            call_id=application.call_id,
            reviewer_id=assignment.reviewer_id,
            manual=assignment.manual,
            at=assignment.assigned_at.isoformat(),
            title=application.title,
            call_title=application.call.title,
            url=default_language_path("funds_manage:review", application.pk),
            recipients=sorted(set(recipients)),
        )


@event_type("funds.review.submitted.v1")
@dataclass(frozen=True)
class ReviewSubmitted(Event):
    """A reviewer submitted their review; `total` is its weighted score out of 100. `reviews_in` of the
    `reviews_assigned` active assignments have their review now (all in: the review can be closed); the
    fund's managers (`recipients`) are told, with `url`, their page of the application."""

    review_id: int
    assignment_id: int
    application_id: int
    call_id: int
    total: str
    at: str
    title: str = ""
    call_title: str = ""
    reviews_in: int = 0
    reviews_assigned: int = 0
    url: str = ""
    recipients: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, review: Review, *, recipients: Iterable[int]) -> Self:
        application = review.assignment.application
        active = application.assignments.filter(revoked_at__isnull=True)
        return cls(
            review_id=review.pk,
            assignment_id=review.assignment_id,
            application_id=application.pk,
            call_id=application.call_id,
            total=f"{review.total:.2f}",
            at=review.submitted_at.isoformat(),
            title=application.title,
            call_title=application.call.title,
            reviews_in=active.filter(review__isnull=False).count(),
            reviews_assigned=active.count(),
            url=default_language_path("funds_manage:application", application.pk),
            recipients=sorted(set(recipients)),
        )


@event_type("funds.tranche.paid.v1")
@dataclass(frozen=True)
class TranchePaid(Event):
    """A tranche was paid after its milestone report was accepted; the applicants (`recipients`) are
    told, with `url`, their page of the application."""

    tranche_id: int
    application_id: int
    call_id: int
    fund_id: int
    position: int
    amount: str
    reference: str
    paid_at: str
    title: str = ""
    call_title: str = ""
    url: str = ""
    recipients: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, tranche: Tranche, *, recipients: Iterable[int]) -> Self:
        payment = tranche.payment
        application = tranche.application
        return cls(
            tranche_id=tranche.pk,
            application_id=application.pk,
            call_id=application.call_id,
            fund_id=application.call.fund_id,
            position=tranche.position,
            amount=f"{payment.amount:.2f}",
            reference=payment.reference,
            paid_at=payment.paid_at.isoformat(),
            title=application.title,
            call_title=application.call.title,
            url=default_language_path("funds:application", application.pk),
            recipients=sorted(set(recipients)),
        )


def _milestone(report: MilestoneReport, page: str, recipients: Iterable[int]) -> dict[str, Any]:
    """What both milestone events say of a report: its tranche, the application, and the reader's page."""
    tranche, application = report.tranche, report.tranche.application
    return {
        "report_id": report.pk,
        "tranche_id": tranche.pk,
        "application_id": application.pk,
        "position": tranche.position,
        "milestone": tranche.milestone,
        "title": application.title,
        "call_title": application.call.title,
        "url": default_language_path(page, application.pk),
        "recipients": sorted(set(recipients)),
    }


@event_type("funds.milestone.reported.v1")
@dataclass(frozen=True)
class MilestoneReported(Event):
    """The applicants reported on a tranche's milestone; the fund's managers (`recipients`) review it on
    their page of the application (`url`)."""

    report_id: int
    tranche_id: int
    application_id: int
    position: int
    milestone: str
    title: str
    call_title: str
    url: str
    recipients: list[int]

    @classmethod
    def of(cls, report: MilestoneReport, *, recipients: Iterable[int]) -> Self:
        return cls(**_milestone(report, "funds_manage:application", recipients))


@event_type("funds.milestone.reviewed.v1")
@dataclass(frozen=True)
class MilestoneReviewed(Event):
    """A manager accepted a milestone report (the tranche may be paid) or returned it with a comment for the
    applicants (`recipients`), who see it on their page of the application (`url`)."""

    report_id: int
    tranche_id: int
    application_id: int
    position: int
    milestone: str
    accepted: bool
    comment: str
    title: str
    call_title: str
    url: str
    recipients: list[int]

    @classmethod
    def of(cls, report: MilestoneReport, *, recipients: Iterable[int]) -> Self:
        return cls(
            **_milestone(report, "funds:application", recipients),
            accepted=report.status == "accepted",
            comment=report.comment,
        )


@event_type("funds.fast_track.invited.v1")
@dataclass(frozen=True)
class FastTrackInvited(Event):
    """An organisation is invited to a call because its team ranked `rank` in the linked competition;
    `recipients` are its members, whom the notifier tells."""

    invitation_id: int
    call_id: int
    call_title: str
    organisation_id: int
    competition_id: int
    team_name: str
    rank: int
    url: str
    recipients: list[int]

    @classmethod
    def of(cls, invitation: FastTrackInvitation) -> Self:
        call = invitation.call
        members = invitation.organisation.memberships.filter(user__is_active=True).values_list("user_id", flat=True)
        return cls(
            invitation_id=invitation.pk,
            call_id=call.pk,
            call_title=call.title,
            organisation_id=invitation.organisation_id,
            competition_id=invitation.competition_id,
            team_name=invitation.team_name,
            rank=invitation.rank,
            url=f"/funds/calls/{call.pk}/",
            recipients=sorted(set(members)),
        )


# --- what funds consumes (consumer "funds": `manage.py run_service funds`) ---------------------------
# competitions.phase.closed.v1 is registered by the competitions app, which every process loads; funds
# reads only its fields and never imports that context.
@handles("competitions.phase.closed.v1", consumer=CONSUMER)
def on_phase_closed(event: Any) -> None:
    """The fast track: the top teams' organisations are invited to the calls linked to the competition."""
    from funds.services import fast_track_invite  # the services publish this module's events

    fast_track_invite(competition_id=event.competition_id, phase_id=event.phase_id, ranking=event.ranking)

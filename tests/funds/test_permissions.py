"""The permission matrix at service and selector level: every part a user can play (or not) for one
application × every action on it. Allowed means the action goes through; refused means NotPermitted
(a 403) or NotVisible (a 404), never anything stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from funds import selectors, services
from funds.models import Application, ApplicationEvent, Conflict, MilestoneReport, Review, ReviewAssignment, Tranche
from hub.accounts.models import Organisation
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.funds.factories import ApplicationFactory, CallFactory, CriterionFactory, FundFactory, PoolReviewerFactory

pytestmark = pytest.mark.django_db

S = Application.Status
AMOUNT = Decimal("300000.00")


@dataclass
class World:
    application: Application
    users: dict[str, Any]

    @property
    def assignment(self) -> ReviewAssignment:
        return self.application.assignments.get(reviewer=self.users["reviewer_assigned"])

    @property
    def tranche(self) -> Tranche:
        return self.application.tranches.get()


def world(status: str, *, reviewed: bool = False, report: str | None = None) -> World:
    """One application at `status`, with a user for every part: the applicant and a co-applicant, an
    assigned reviewer, a pool reviewer not assigned, a conflicted one (was assigned), the fund's manager,
    another fund's manager, and an anonymous visitor. Approved ones have their amount committed;
    from the agreement on, one tranche (with a milestone report in `report` status, if given). The
    assigned reviewer has reviewed when `reviewed`, and always once a decision is pending."""
    manager, other_manager = UserFactory(), UserFactory()
    FundFactory(managers=[other_manager])
    call = CallFactory(fund=FundFactory(managers=[manager]))
    CriterionFactory(call=call)
    startup = OrganisationFactory(kind=Organisation.Kind.STARTUP)
    applicant = MembershipFactory(organisation=startup).user
    co_applicant = MembershipFactory(organisation=startup).user
    assigned, unassigned, conflicted = (PoolReviewerFactory(call=call).reviewer for _ in range(3))
    decided = status in (S.APPROVED, S.AGREEMENT, S.DISBURSING)
    application = ApplicationFactory(
        call=call,
        organisation=startup,
        created_by=applicant,
        status=status,
        approved_amount=AMOUNT if decided else None,
        locked=decided,
    )
    application.co_applicants.add(co_applicant)
    if status not in (S.DRAFT, S.SUBMITTED, S.SCREENING, S.MORE_INFORMATION):
        ReviewAssignment.objects.create(application=application, reviewer=assigned, assigned_by=manager)
        ReviewAssignment.objects.create(
            application=application, reviewer=conflicted, assigned_by=manager, revoked_at="2026-11-01T00:00Z",
            revoked_reason="利益冲突",
        )  # fmt: skip
        Conflict.objects.create(reviewer=conflicted, application=application, reason="利益冲突", recorded_by=manager)
    if reviewed or status == S.DECISION_PENDING:
        Review.objects.create(assignment=application.assignments.get(reviewer=assigned), scores={}, total=60)
    if decided:
        for holder in (call, call.fund):
            holder.committed = AMOUNT
            holder.save()
    if status in (S.AGREEMENT, S.DISBURSING):
        tranche = Tranche.objects.create(
            application=application, position=1, milestone="全部", amount=AMOUNT, due="2027-06-30"
        )
        if report:
            MilestoneReport.objects.create(tranche=tranche, text="完成", submitted_by=applicant, status=report)
    users = {
        "applicant": applicant,
        "co_applicant": co_applicant,
        "reviewer_assigned": assigned,
        "reviewer_unassigned": unassigned,
        "reviewer_conflicted": conflicted,
        "manager": manager,
        "other_manager": other_manager,
        "anonymous": AnonymousUser(),
    }
    return World(application=application, users=users)


APPLICANTS = {"applicant", "co_applicant"}
MANAGER = {"manager"}
R = "reviewer_assigned"
TRANCHE = [{"milestone": "全部", "amount": AMOUNT, "due": "2027-06-30"}]

# action: (the world it needs, what the actor does, who may)
ACTIONS: dict[str, tuple[dict[str, Any], Callable[[World, Any], Any], set[str]]] = {
    "read the application": (
        {"status": S.IN_REVIEW},
        lambda w, u: selectors.application_view(user=u, application=w.application),
        APPLICANTS | MANAGER | {R},
    ),
    "read the trail": (
        {"status": S.IN_REVIEW},
        lambda w, u: list(selectors.application_trail(user=u, application=w.application)),
        APPLICANTS | MANAGER,
    ),
    "read the reviews": (
        {"status": S.DECISION_PENDING},
        lambda w, u: selectors.reviews_visible(user=u, application=w.application),
        MANAGER | {R},
    ),
    "edit the draft": (
        {"status": S.DRAFT},
        lambda w, u: services.application_update(application=w.application, by=u, fields={"title": "新标题"}),
        APPLICANTS,
    ),
    "submit": (
        {"status": S.DRAFT},
        lambda w, u: services.application_submit(application=w.application, by=u),
        APPLICANTS,
    ),
    "withdraw": (
        {"status": S.SUBMITTED},
        lambda w, u: services.application_withdraw(application=w.application, by=u),
        {"applicant"},
    ),
    "screen": (
        {"status": S.SUBMITTED},
        lambda w, u: services.application_screen(application=w.application, by=u),
        MANAGER,
    ),
    "ask for more information": (
        {"status": S.SCREENING},
        lambda w, u: services.application_request_information(application=w.application, by=u, reason="补充"),
        MANAGER,
    ),
    "answer": (
        {"status": S.MORE_INFORMATION},
        lambda w, u: services.application_answer(application=w.application, by=u),
        APPLICANTS,
    ),
    "send to review": (
        {"status": S.SCREENING},
        lambda w, u: services.application_start_review(application=w.application, by=u),
        MANAGER,
    ),
    "assign a reviewer": (
        {"status": S.IN_REVIEW},
        lambda w, u: services.review_assign(application=w.application, reviewer=w.users["reviewer_unassigned"], by=u),
        MANAGER,
    ),
    "assign automatically": (
        {"status": S.IN_REVIEW},
        lambda w, u: services.review_assign_automatically(call=w.application.call, by=u),
        MANAGER,
    ),
    "record a conflict": (
        {"status": S.IN_REVIEW},
        lambda w, u: services.conflict_record(
            by=u, reviewer=w.users["reviewer_unassigned"], application=w.application, reason="股东"
        ),
        MANAGER,
    ),
    "submit a review": (
        {"status": S.IN_REVIEW},
        lambda w, u: services.review_submit(
            assignment=w.assignment, by=u, scores={c.pk: 5 for c in w.application.call.criteria.all()}
        ),
        {R},
    ),
    "close the review": (
        {"status": S.IN_REVIEW, "reviewed": True},
        lambda w, u: services.application_close_review(application=w.application, by=u),
        MANAGER,
    ),
    "approve": (
        {"status": S.DECISION_PENDING},
        lambda w, u: services.application_approve(application=w.application, by=u, amount="100000", reason="通过"),
        MANAGER,
    ),
    "reject": (
        {"status": S.DECISION_PENDING},
        lambda w, u: services.application_reject(application=w.application, by=u, reason="不予资助"),
        MANAGER,
    ),
    "amend": (
        {"status": S.APPROVED},
        lambda w, u: services.application_amend(
            application=w.application, by=u, reason="调整", approved_amount="200000"
        ),
        MANAGER,
    ),
    "plan tranches": (
        {"status": S.APPROVED},
        lambda w, u: services.tranches_plan(application=w.application, by=u, tranches=TRANCHE),
        MANAGER,
    ),
    "report on a milestone": (
        {"status": S.AGREEMENT},
        lambda w, u: services.milestone_report_submit(tranche=w.tranche, by=u, text="完成"),
        APPLICANTS,
    ),
    "accept a milestone report": (
        {"status": S.AGREEMENT, "report": MilestoneReport.Status.SUBMITTED},
        lambda w, u: services.milestone_report_review(report=w.tranche.reports.get(), by=u, accept=True),
        MANAGER,
    ),
    "pay a tranche": (
        {"status": S.AGREEMENT, "report": MilestoneReport.Status.ACCEPTED},
        lambda w, u: services.tranche_pay(tranche=w.tranche, by=u, reference="HF-9"),
        MANAGER,
    ),
}
ACTORS = [
    "applicant",
    "co_applicant",
    "reviewer_assigned",
    "reviewer_unassigned",
    "reviewer_conflicted",
    "manager",
    "other_manager",
    "anonymous",
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", ACTIONS)
def test_permission_matrix(action: str, actor: str):
    needs, act, allowed = ACTIONS[action]
    w = world(**needs)
    trail = ApplicationEvent.objects.count()
    if actor in allowed:
        act(w, w.users[actor])
    else:
        with pytest.raises((services.NotPermitted, selectors.NotVisible)):
            act(w, w.users[actor])
        w.application.refresh_from_db()
        assert w.application.status == needs["status"]
        assert ApplicationEvent.objects.count() == trail

"""The application workflow: the table itself, every step allowed and refused, the whole road from draft
to closed with its events, and the audit trail that only ever grows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from funds import services
from funds.models import AppendOnly, Application, ApplicationEvent, MilestoneReport, Payment, Review, Tranche
from funds.workflow import PRE_DECISION, TRANSITIONS, Actor, actions_from
from tests.funds.factories import ApplicationFactory, PoolReviewerFactory
from tests.funds.support import approved, draft, funds_event_types, published, two_tranches

pytestmark = pytest.mark.django_db

S = Application.Status


def test_the_table_has_the_road_of_the_issue():
    assert actions_from(S.DRAFT) == ["submit", "withdraw"]
    assert actions_from(S.SCREENING) == ["request_information", "start_review", "reject", "withdraw"]
    assert actions_from(S.MORE_INFORMATION) == ["answer", "withdraw"]
    assert actions_from(S.DECISION_PENDING) == ["approve", "reject", "withdraw"]
    assert actions_from(S.APPROVED) == ["sign_agreement"]
    for final in (S.REJECTED, S.WITHDRAWN, S.CLOSED):
        assert actions_from(final) == []
    assert TRANSITIONS["withdraw"].actors == {Actor.APPLICANT}  # the applicant who started it, alone
    assert S.APPROVED not in PRE_DECISION


def test_the_whole_road_from_draft_to_closed(call, startup, applicant, manager, reviewers):
    application = draft(call, startup, applicant)
    assert application.status == S.DRAFT
    application = services.application_submit(application=application, by=applicant)
    application = services.application_screen(application=application, by=manager)
    services.application_request_information(application=application, by=manager, reason="请补充财务报表")
    services.application_update(application=application, by=applicant, fields={"answers": {"financials": "已补充"}})
    application = services.application_answer(application=application, by=applicant)
    assert application.status == S.SCREENING
    services.application_start_review(application=application, by=manager)
    result = services.review_assign_automatically(call=call, by=manager)
    assert len(result.assigned) == 2 and not result.short
    for assignment in result.assigned:
        services.review_submit(
            assignment=assignment, by=assignment.reviewer, scores={c.pk: 4 for c in call.criteria.all()}
        )
    services.application_close_review(application=application, by=manager)
    application = services.application_approve(application=application, by=manager, amount="400000", reason="评审通过")
    assert (application.status, application.approved_amount, application.locked) == (
        S.APPROVED,
        Decimal("400000.00"),
        True,
    )
    services.tranches_plan(application=application, by=manager, tranches=two_tranches(application))
    application = services.application_sign_agreement(application=application, by=manager)
    for tranche in application.tranches.order_by("position"):
        report = services.milestone_report_submit(tranche=tranche, by=applicant, text="里程碑已完成")
        services.milestone_report_review(report=report, by=manager, accept=True)
        services.tranche_pay(tranche=tranche, by=manager, reference=f"PAY-{tranche.position}")
    application.refresh_from_db()
    assert (application.status, application.disbursed) == (S.DISBURSING, Decimal("400000.00"))
    application = services.application_close(application=application, by=manager)
    assert application.status == S.CLOSED

    steps = list(application.trail.values_list("action", "from_status", "to_status"))
    assert [action for action, *_ in steps] == [
        "create", "submit", "screen", "request_information", "answer", "start_review", "close_review",
        "approve", "plan_tranches", "sign_agreement", "accept_report", "pay", "start_disbursing",
        "accept_report", "pay", "close",
    ]  # fmt: skip
    assert ("approve", S.DECISION_PENDING, S.APPROVED) in steps
    approval = application.trail.get(action="approve")
    assert (approval.actor, approval.reason, approval.details) == (
        manager,
        "评审通过",
        {"approved_amount": "400000.00"},
    )
    types = funds_event_types()
    assert types[0] == "funds.application.submitted.v1"
    assert types.count("funds.review.assigned.v1") == 2 and types.count("funds.tranche.paid.v1") == 2
    assert types[-1] == "funds.application.closed.v1"
    [decided] = published("funds.application.decided.v1")
    assert decided == {
        "application_id": application.pk,
        "call_id": call.pk,
        "fund_id": call.fund_id,
        "organisation_id": startup.pk,
        "from_status": "decision_pending",
        "to_status": "approved",
        "at": decided["at"],
        "decision": "approved",
        "approved_amount": "400000.00",
        # What the notifier tells the applicant (tests/funds/test_notifications.py).
        "title": application.title,
        "call_title": call.title,
        "url": f"/funds/applications/{application.pk}/",
        "manage_url": f"/funds/manage/applications/{application.pk}/",
        "reason": "评审通过",
        "recipients": [applicant.pk],
    }
    # Events carry ids and facts, and what a manager wrote for the applicants only: never the answers.
    [asked] = published("funds.application.more_information_requested.v1")
    assert asked["question"] == "请补充财务报表"
    assert "已补充" not in str(published("funds.application.information_provided.v1"))


# Who takes each action in the table test, and what it needs beyond the status.
def _take(action: str, application: Application, manager, applicant):
    match action:
        case "submit":
            return services.application_submit(application=application, by=applicant)
        case "screen":
            return services.application_screen(application=application, by=manager)
        case "request_information":
            return services.application_request_information(application=application, by=manager, reason="补充材料")
        case "answer":
            return services.application_answer(application=application, by=applicant)
        case "start_review":
            return services.application_start_review(application=application, by=manager)
        case "close_review":
            reviewer = PoolReviewerFactory(call=application.call).reviewer
            assignment = application.assignments.create(reviewer=reviewer, assigned_by=manager)
            Review.objects.create(assignment=assignment, scores={}, total=Decimal("50"))
            return services.application_close_review(application=application, by=manager)
        case "approve":
            return services.application_approve(application=application, by=manager, amount="100000", reason="通过")
        case "reject":
            return services.application_reject(application=application, by=manager, reason="不符合条件")
        case "withdraw":
            return services.application_withdraw(application=application, by=applicant)
        case "sign_agreement":
            if application.approved_amount:
                Tranche.objects.create(
                    application=application,
                    position=1,
                    milestone="全部",
                    amount=application.approved_amount,
                    due="2027-01-01",
                )
            return services.application_sign_agreement(application=application, by=manager)
        case "close":
            return services.application_close(application=application, by=manager)
    raise AssertionError(action)


def _at(status: str, call, startup, applicant) -> Application:
    """An application standing at `status` (with what that status implies: an approved amount, a lock,
    and when disbursing, the whole amount paid)."""
    decided = status in (S.APPROVED, S.AGREEMENT, S.DISBURSING, S.CLOSED)
    return ApplicationFactory(
        call=call,
        organisation=startup,
        created_by=applicant,
        status=status,
        approved_amount=Decimal("200000") if decided else None,
        locked=decided,
        disbursed=Decimal("200000") if status in (S.DISBURSING, S.CLOSED) else Decimal("0"),
    )


STEPS = [action for action in TRANSITIONS if action != "start_disbursing"]  # taken by tranche_pay only


@pytest.mark.parametrize("status", [s.value for s in S])
@pytest.mark.parametrize("action", STEPS)
def test_each_step_is_allowed_exactly_from_its_sources(action, status, call, startup, applicant, manager):
    application = _at(status, call, startup, applicant)
    step = TRANSITIONS[action]
    trail_before = application.trail.count()
    if status in step.sources:
        result = _take(action, application, manager, applicant)
        assert result.status == step.target
        assert application.trail.count() == trail_before + 1
        assert published(f"funds.application.{step.fact}.v1")
    else:
        with pytest.raises(services.ApplicationRefused) as refused:
            _take(action, application, manager, applicant)
        assert refused.value.code == ("already_submitted" if action == "submit" else "wrong_status")
        application.refresh_from_db()
        assert application.status == status
        assert application.trail.count() == trail_before
        assert not published(f"funds.application.{step.fact}.v1")


def test_steps_needing_a_reason_refuse_without_one(call, startup, applicant, manager):
    application = _at(S.SCREENING, call, startup, applicant)
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_request_information(application=application, by=manager, reason="  ")
    assert refused.value.code == "reason_required" and "reason" in refused.value.errors
    application.refresh_from_db()
    assert application.status == S.SCREENING


def test_a_withdrawn_application_takes_no_more_steps_and_tells_the_world(call, startup, applicant, manager):
    application = draft(call, startup, applicant)
    services.application_submit(application=application, by=applicant)
    services.application_withdraw(application=application, by=applicant, reason="项目方向调整")
    for action in ("screen", "submit", "withdraw"):
        with pytest.raises(services.ApplicationRefused):
            _take(action, application, manager, applicant)
    [withdrawn] = published("funds.application.withdrawn.v1")
    assert (withdrawn["from_status"], withdrawn["to_status"]) == ("submitted", "withdrawn")


def test_the_audit_trail_is_append_only(call, startup, applicant, manager):
    application = draft(call, startup, applicant)
    services.application_submit(application=application, by=applicant)
    entry = application.trail.last()
    entry.reason = "改写历史"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    # Whoever writes, the database itself refuses.
    with pytest.raises(IntegrityError), transaction.atomic():
        ApplicationEvent.objects.filter(pk=entry.pk).update(reason="改写历史")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApplicationEvent.objects.filter(pk=entry.pk).delete()
    assert ApplicationEvent.objects.get(pk=entry.pk).reason == ""
    assert application.trail.count() == 2


def test_a_paid_tranche_and_its_report_stay(call, startup, applicant, manager, reviewers):
    application = approved(draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0])
    services.tranches_plan(application=application, by=manager, tranches=two_tranches(application))
    services.application_sign_agreement(application=application, by=manager)
    first = application.tranches.get(position=1)
    report = services.milestone_report_submit(tranche=first, by=applicant, text="原型完成")
    services.milestone_report_review(report=report, by=manager, accept=True)
    services.tranche_pay(tranche=first, by=manager, reference="HF-0001")
    assert Payment.objects.get(tranche=first).amount == first.amount
    assert MilestoneReport.objects.get(pk=report.pk).status == MilestoneReport.Status.ACCEPTED

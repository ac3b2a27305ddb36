"""Racing writers: parallel approvals on one call, and on two calls of one fund, commit exactly what
fits, and the figures stay consistent with the applications; a double submit and a double payment each
happen once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from funds import services
from funds.models import Application, Call, Fund, MilestoneReport, Payment, Tranche
from tests.factories import MembershipFactory, UserFactory
from tests.funds.factories import ApplicationFactory, CallFactory, FundFactory
from tests.funds.support import published

pytestmark = pytest.mark.django_db(transaction=True)

S = Application.Status


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; each result, or the exception it raised."""
    start = Barrier(count)

    def run(i: int) -> Any:
        start.wait()
        try:
            return work(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def pending(call: Call, count: int, amount: str) -> list[Application]:
    """`count` applications awaiting a decision, each asking for `amount`."""
    return [
        ApplicationFactory(call=call, status=S.DECISION_PENDING, requested_amount=Decimal(amount)) for _ in range(count)
    ]


def test_parallel_approvals_commit_exactly_what_fits_the_envelope():
    manager = UserFactory()
    call = CallFactory(fund=FundFactory(managers=[manager]), budget_envelope=Decimal("1000000"))
    applications = pending(call, 5, "300000")

    results = race(
        5,
        lambda i: services.application_approve(application=applications[i], by=manager, amount="300000", reason="通过"),
    )
    assert sorted(type(r).__name__ for r in results) == ["Application"] * 3 + ["BudgetExceeded"] * 2, results
    assert {r.code for r in results if isinstance(r, services.BudgetExceeded)} == {"envelope_exceeded"}
    call.refresh_from_db()
    fund = Fund.objects.get(pk=call.fund_id)
    assert call.committed == fund.committed == Decimal("900000.00")
    approved = Application.objects.filter(call=call, status=S.APPROVED)
    assert approved.count() == 3
    assert approved.aggregate(total=Sum("approved_amount"))["total"] == call.committed
    # The refused ones are untouched: still pending, unlocked, nothing in their trail.
    for refused in Application.objects.filter(call=call).exclude(status=S.APPROVED):
        assert (refused.status, refused.locked, refused.approved_amount) == (S.DECISION_PENDING, False, None)
        assert not refused.trail.exists()


def test_parallel_approvals_on_two_calls_never_overspend_their_fund():
    manager = UserFactory()
    fund = FundFactory(managers=[manager], total_budget=Decimal("1000000"))
    # Each call alone could take all four; the fund can pay for two.
    calls = [CallFactory(fund=fund, budget_envelope=Decimal("1000000")) for _ in range(2)]
    applications = [a for call in calls for a in pending(call, 2, "400000")]

    results = race(
        4,
        lambda i: services.application_approve(application=applications[i], by=manager, amount="400000", reason="通过"),
    )
    refused = [r for r in results if isinstance(r, services.BudgetExceeded)]
    assert len(refused) == 2 and {r.code for r in refused} == {"fund_exceeded"}, results
    fund.refresh_from_db()
    assert fund.committed == Decimal("800000.00")
    assert sum(Call.objects.get(pk=c.pk).committed for c in calls) == fund.committed


@pytest.mark.django_db  # no race: a plain transaction suffices
def test_an_approval_over_the_remaining_envelope_is_refused_and_nothing_changes():
    manager = UserFactory()
    call = CallFactory(fund=FundFactory(managers=[manager]), budget_envelope=Decimal("500000"))
    first, second = pending(call, 2, "300000")
    services.application_approve(application=first, by=manager, amount="300000", reason="通过")
    with pytest.raises(services.BudgetExceeded) as refused:
        services.application_approve(application=second, by=manager, amount="300000", reason="通过")
    assert "200000.00" in refused.value.message  # what is left, in the message
    # Less than requested fits.
    services.application_approve(application=second, by=manager, amount="200000", reason="部分资助")
    call.refresh_from_db()
    assert (call.committed, call.remaining) == (Decimal("500000.00"), Decimal("0.00"))


@pytest.mark.django_db  # no race: a plain transaction suffices
def test_amendments_move_the_commitment_and_stay_within_the_envelope():
    manager = UserFactory()
    call = CallFactory(fund=FundFactory(managers=[manager]), budget_envelope=Decimal("500000"))
    application, other = pending(call, 2, "400000")
    services.application_approve(application=application, by=manager, amount="300000", reason="通过")
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_amend(application=application, by=manager, reason=" ", approved_amount="350000")
    assert refused.value.code == "reason_required"
    services.application_amend(application=application, by=manager, reason="预算调整", approved_amount="250000")
    call.refresh_from_db()
    assert call.committed == Fund.objects.get(pk=call.fund_id).committed == Decimal("250000.00")
    services.application_approve(application=other, by=manager, amount="200000", reason="通过")
    with pytest.raises(services.BudgetExceeded):  # 350,000 + 200,000 > 500,000
        services.application_amend(application=application, by=manager, reason="追加", approved_amount="350000")
    application.refresh_from_db()
    assert application.approved_amount == Decimal("250000.00")
    [amended] = application.trail.filter(action="amend")
    assert (amended.reason, amended.details["approved_amount"]) == ("预算调整", ["300000.00", "250000.00"])


@pytest.mark.django_db  # no race: a plain transaction suffices
def test_members_of_the_managing_organisation_with_the_fund_manager_role_manage_it():
    fund = FundFactory()
    manager = MembershipFactory(organisation=fund.managing_organisation, role="fund_manager").user
    call = CallFactory(fund=fund)
    [application] = pending(call, 1, "100000")
    services.application_approve(application=application, by=manager, amount="100000", reason="通过")
    assert Fund.objects.get(pk=fund.pk).committed == Decimal("100000.00")


def test_a_double_submit_racing_itself_submits_once():
    applicant = UserFactory()
    call = CallFactory()
    application = ApplicationFactory(call=call, created_by=applicant)
    results = race(2, lambda i: services.application_submit(application=application, by=applicant))
    assert sorted(type(r).__name__ for r in results) == ["Application", "ApplicationRefused"], results
    assert [r.code for r in results if isinstance(r, services.ApplicationRefused)] == ["already_submitted"]
    assert list(application.trail.values_list("action", flat=True)) == ["submit"]
    assert len(published("funds.application.submitted.v1")) == 1


def test_one_tranche_paid_twice_at_once_is_paid_once():
    manager = UserFactory()
    call = CallFactory(fund=FundFactory(managers=[manager]))
    amount = Decimal("200000.00")
    application = ApplicationFactory(call=call, status=S.AGREEMENT, approved_amount=amount, locked=True)
    for holder in (call, call.fund):
        holder.committed = amount
        holder.save()
    tranche = Tranche.objects.create(
        application=application, position=1, milestone="全部", amount=amount, due="2027-06-30"
    )
    MilestoneReport.objects.create(
        tranche=tranche, text="完成", submitted_by=application.created_by, status=MilestoneReport.Status.ACCEPTED
    )
    results = race(2, lambda i: services.tranche_pay(tranche=tranche, by=manager, reference=f"HF-{i}"))
    assert sorted(type(r).__name__ for r in results) == ["DisbursementRefused", "Payment"], results
    call.refresh_from_db()
    assert call.disbursed == Fund.objects.get(pk=call.fund_id).disbursed == amount
    assert Payment.objects.filter(tranche=tranche).count() == 1
    assert len(published("funds.tranche.paid.v1")) == 1

"""Monthly statements: opening and closing balances, purchases, compute used and subsidies of one calendar
month in Shanghai time, and the subsidy programme's accruals per organisation."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from funds.credit.models import CreditAccount, CreditPurchase, LedgerEntry
from funds.credit.selectors import programme_accruals, statement, statement_months
from tests.factories import OrganisationFactory
from tests.funds.credit.factories import SubsidyProgrammeFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, time: str = "12:00") -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=SHANGHAI)


class Ledger:
    """Writes entries as the services would, at chosen times (balance_after kept)."""

    def __init__(self, organisation, buyer) -> None:
        self.account = CreditAccount.objects.create(organisation=organisation)
        self.buyer = buyer
        self.balance = Decimal(0)

    def add(self, kind: str, amount: str, when: datetime.datetime, **fields) -> LedgerEntry:
        self.balance += Decimal(amount)
        if kind == "purchase":
            fields["purchase"] = CreditPurchase.objects.create(
                account=self.account,
                amount=Decimal(amount),
                payment_intent_id=f"pi_{uuid.uuid4().hex}",
                client_secret="x",
                created_by=self.buyer,
                status="succeeded",
            )
        return LedgerEntry.objects.create(
            account=self.account, kind=kind, amount=Decimal(amount), balance_after=self.balance, at=when, **fields
        )


def test_a_months_statement_adds_up_in_shanghai_time(startup, buyer):
    programme = SubsidyProgrammeFactory()
    ledger = Ledger(startup, buyer)
    ledger.add("purchase", "100", at("2026-09-30", "23:59"))  # September, in Shanghai (15:59 UTC)
    job = uuid.uuid4()
    usage = {"device": "gpu", "cpu_seconds": 10.0, "gpu_seconds": 600.0, "submission_id": 3}
    ledger.add("usage", "-2.0000", at("2026-10-01", "00:30"), job_id=job, details=usage)  # October already
    ledger.add("subsidy", "1.00", at("2026-10-01", "00:30"), job_id=job, programme=programme)
    ledger.add("purchase", "50", at("2026-10-15"))
    ledger.add("usage", "-0.0060", at("2026-11-02"), job_id=uuid.uuid4(), details={"device": "cpu", "cpu_seconds": 36})

    october = statement(organisation=startup, month=datetime.date(2026, 10, 1))
    assert (october.opening_balance, october.purchased, october.used, october.subsidised) == (100, 50, 2, 1)
    assert october.closing_balance == Decimal("149") and (october.jobs, october.gpu_seconds) == (1, 600.0)
    assert [e.kind for e in october.entries] == ["usage", "subsidy", "purchase"]
    november = statement(organisation=startup, month=datetime.date(2026, 11, 1))
    assert (november.opening_balance, november.closing_balance) == (Decimal("149"), Decimal("148.9940"))
    empty = statement(organisation=startup, month=datetime.date(2026, 12, 1))
    assert (empty.opening_balance, empty.closing_balance, empty.entries) == (Decimal("148.9940"),) * 2 + ([],)
    assert statement_months(organisation=startup) == [datetime.date(2026, m, 1) for m in (11, 10, 9)]


def test_a_programme_sees_what_it_paid_per_organisation(startup, buyer):
    programme = SubsidyProgrammeFactory()
    other = OrganisationFactory(name="另一家公司")
    for organisation, jobs in ((startup, 2), (other, 1)):
        ledger = Ledger(organisation, buyer)
        for _ in range(jobs):
            job = uuid.uuid4()
            ledger.add("usage", "-4", at("2026-10-03"), job_id=job)
            ledger.add("subsidy", "2", at("2026-10-03"), job_id=job, programme=programme)
    rows = programme_accruals(programme=programme, month=datetime.date(2026, 10, 1))
    assert [(r.organisation, r.jobs, r.cost, r.paid) for r in rows] == [(startup, 2, 8, 4), (other, 1, 4, 2)]
    assert programme_accruals(programme=programme, month=datetime.date(2026, 11, 1)) == []


def test_members_hear_once_that_last_months_statement_is_ready(startup, buyer):
    from funds.credit.services import statements_announce
    from hub.events.models import OutboxEvent
    from hub.notifications.models import Notification
    from tests.competitions.support import published
    from tests.factories import MembershipFactory
    from tests.support import consumer

    colleague = MembershipFactory(organisation=startup).user
    Ledger(startup, buyer).add("purchase", "100", at("2026-10-08"))
    Ledger(OrganisationFactory(), buyer).add("purchase", "100", at("2026-09-08"))  # another month

    assert statements_announce(month=datetime.date(2026, 10, 1)) == 1
    assert statements_announce(month=datetime.date(2026, 10, 1)) == 0
    [event] = published("funds.credit.statement_ready.v1")
    assert event["recipients"] == sorted([buyer.pk, colleague.pk]) and event["closing_balance"] == "100.00"
    assert event["url"] == f"/funds/credit/organisations/{startup.pk}/statements/2026-10/"
    consumer("notifier").apply(OutboxEvent.objects.get(type="funds.credit.statement_ready.v1").body)
    assert Notification.objects.filter(user__in=[buyer, colleague]).count() == 2


def test_the_beat_task_announces_last_month(startup, buyer, settings):
    from django.utils import timezone

    from funds.credit.models import StatementNotice
    from funds.credit.tasks import statements_announce_last_month

    last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    Ledger(startup, buyer).add("purchase", "100", at(last_month.isoformat()))
    assert statements_announce_last_month.apply().get() == 1
    assert StatementNotice.objects.get().month == last_month

"""Reads of compute credit: who may see an account, its ledger, monthly statements, subsidy accruals."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth

from funds.credit.models import CreditAccount, CreditPurchase, LedgerEntry, SubsidyProgramme
from hub.accounts.models import Membership, Organisation, User

ZERO = Decimal(0)
Kind = LedgerEntry.Kind


def may_use_credit(*, user: User, organisation: Organisation) -> bool:
    """Any member of an organisation may see its credit and buy more (the card is the buyer's own)."""
    return bool(user.is_authenticated) and Membership.objects.filter(user=user, organisation=organisation).exists()


def credit_organisations(*, user: User) -> QuerySet[Organisation]:
    """The organisations whose compute credit `user` may see, by name."""
    return Organisation.objects.filter(memberships__user=user).distinct().order_by("name")


def balance(*, organisation: Organisation) -> Decimal:
    account = CreditAccount.objects.filter(organisation=organisation).only("balance").first()
    return account.balance if account else ZERO


def ledger(*, organisation: Organisation) -> QuerySet[LedgerEntry]:
    """The account's entries, newest first (page it)."""
    return LedgerEntry.objects.filter(account__organisation=organisation).order_by("-at", "-id")


def purchases(*, organisation: Organisation) -> QuerySet[CreditPurchase]:
    return CreditPurchase.objects.filter(account__organisation=organisation).order_by("-created_at")


def purchase_of(*, user: User, purchase_id: str) -> CreditPurchase | None:
    """A purchase its buyer may look at and pay; None for anyone else."""
    return (
        CreditPurchase.objects.select_related("account__organisation").filter(pk=purchase_id, created_by=user).first()
    )


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of `month` and of the next, in the platform's time zone (statements follow it)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = datetime.datetime(month.year, month.month, 1, tzinfo=zone)
    following = datetime.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start, following


@dataclass(frozen=True)
class Statement:
    """One organisation's compute credit over one calendar month."""

    organisation: Organisation
    month: datetime.date
    opening_balance: Decimal
    purchased: Decimal
    used: Decimal  # the cost of the month's compute, before subsidies (a positive figure)
    subsidised: Decimal
    closing_balance: Decimal
    jobs: int
    cpu_seconds: float
    gpu_seconds: float
    entries: list[LedgerEntry] = field(default_factory=list)


def statement(*, organisation: Organisation, month: datetime.date) -> Statement:
    """The month's statement: opening and closing balances, purchases, compute used and subsidies, and every
    entry. The ledger is append-only, so a past month's statement never changes."""
    start, end = month_bounds(month)
    entries = LedgerEntry.objects.filter(account__organisation=organisation)
    before = entries.filter(at__lt=start).order_by("-at", "-id").values_list("balance_after", flat=True).first()
    in_month = list(entries.filter(at__gte=start, at__lt=end).order_by("at", "id"))
    opening = before if before is not None else ZERO
    totals = {kind: sum((e.amount for e in in_month if e.kind == kind), ZERO) for kind in Kind.values}
    usage = [e for e in in_month if e.kind == Kind.USAGE]
    return Statement(
        organisation=organisation,
        month=month.replace(day=1),
        opening_balance=opening,
        purchased=totals[Kind.PURCHASE],
        used=-totals[Kind.USAGE],
        subsidised=totals[Kind.SUBSIDY],
        closing_balance=in_month[-1].balance_after if in_month else opening,
        jobs=len(usage),
        cpu_seconds=sum(float(e.details.get("cpu_seconds", 0)) for e in usage),
        gpu_seconds=sum(float(e.details.get("gpu_seconds", 0)) for e in usage),
        entries=in_month,
    )


def statement_months(*, organisation: Organisation) -> list[datetime.date]:
    """The months the account has entries in, newest first."""
    months = (
        LedgerEntry.objects.filter(account__organisation=organisation)
        .annotate(month=TruncMonth("at", tzinfo=ZoneInfo(settings.TIME_ZONE)))
        .values_list("month", flat=True)
        .distinct()
        .order_by("-month")
    )
    return [m.date() for m in months]


@dataclass(frozen=True)
class Accrual:
    organisation: Organisation
    jobs: int
    cost: Decimal
    paid: Decimal


def programme_accruals(*, programme: SubsidyProgramme, month: datetime.date) -> list[Accrual]:
    """What the programme paid towards each organisation's compute in the month, largest first."""
    start, end = month_bounds(month)
    rows = (
        LedgerEntry.objects.filter(programme=programme, at__gte=start, at__lt=end)
        .values("account__organisation")
        .annotate(jobs=Count("id"), paid=Coalesce(Sum("amount"), ZERO))
        .order_by("-paid")
    )
    organisations = Organisation.objects.in_bulk([row["account__organisation"] for row in rows])
    costs = dict(
        LedgerEntry.objects.filter(
            kind=Kind.USAGE,
            at__gte=start,
            at__lt=end,
            job_id__in=LedgerEntry.objects.filter(programme=programme, at__gte=start, at__lt=end).values("job_id"),
        )
        .values("account__organisation")
        .annotate(cost=Coalesce(Sum("amount"), ZERO))
        .values_list("account__organisation", "cost")
    )
    return [
        Accrual(
            organisation=organisations[row["account__organisation"]],
            jobs=row["jobs"],
            cost=-costs.get(row["account__organisation"], ZERO),
            paid=row["paid"],
        )
        for row in rows
    ]


def managed_programmes(*, user: User) -> QuerySet[SubsidyProgramme]:
    """The subsidy programmes of the funds `user` manages."""
    return SubsidyProgramme.objects.filter(fund__managers=user).select_related("fund").distinct()

"""Every write to compute credit: purchases and their settlement, Stripe's webhook, metered charges.

Locks: the account row, then (for a subsidy) the fund row; nothing takes them the other way round.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from funds.credit import payments
from funds.credit.events import CreditPurchased, CreditPurchaseFailed, StatementReady
from funds.credit.models import (
    CREDIT_QUANTUM,
    CreditAccount,
    CreditPurchase,
    LedgerEntry,
    StatementNotice,
    StripeEvent,
    SubsidyProgramme,
)
from funds.credit.selectors import may_use_credit, month_bounds, statement
from funds.events import default_language_path
from funds.models import Fund
from hub.accounts.models import Membership, Organisation, User
from hub.events.publish import publish

log = logging.getLogger(__name__)
Status = CreditPurchase.Status
SECONDS_PER_HOUR = Decimal(3600)


class CreditRefused(Exception):
    """A purchase or payment step was refused; the message says why, for the payer."""


class WebhookRefused(Exception):
    """A webhook delivery is not Stripe's (bad or stale signature) or not JSON: nothing was applied."""


def _account_locked(organisation: Organisation) -> CreditAccount:
    """The organisation's account, created on first use, locked for the rest of the transaction."""
    CreditAccount.objects.get_or_create(organisation=organisation)
    return CreditAccount.objects.select_for_update().select_related("organisation").get(organisation=organisation)


def _entry_append(*, account: CreditAccount, kind: str, amount: Decimal, **fields: Any) -> LedgerEntry:
    """Append one ledger entry to a locked account and move its balance with it."""
    account.balance += amount
    CreditAccount.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    return LedgerEntry.objects.create(
        account=account, kind=kind, amount=amount, balance_after=account.balance, **fields
    )


def _price(name: str) -> Decimal:
    """One of settings.COMPUTE_CREDIT's amounts (prices and purchase bounds), in yuan."""
    return Decimal(str(settings.COMPUTE_CREDIT[name]))


def purchase_amount_parse(raw: str | Decimal) -> Decimal:
    """The amount a payer typed, in yuan to the fen, within the configured bounds; CreditRefused if not."""
    low, high = _price("MIN_PURCHASE"), _price("MAX_PURCHASE")
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise CreditRefused(_("Enter the amount as a number of yuan, e.g. 500 or 99.50.")) from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise CreditRefused(_("Enter the amount in yuan with at most two decimal places."))
    if not low <= amount <= high:
        raise CreditRefused(_("Buy between ¥%(min)s and ¥%(max)s at a time.") % {"min": low, "max": high})
    return amount


def purchase_start(*, organisation: Organisation, amount: str | Decimal, by: User) -> CreditPurchase:
    """Open a card payment of `amount` yuan for the organisation's credit: a Stripe PaymentIntent the payer
    then confirms. Nothing is credited until Stripe says the payment succeeded (purchase_settle)."""
    if not may_use_credit(user=by, organisation=organisation):
        raise CreditRefused(
            _("Only members of %(organisation)s may buy its compute credit.") % {"organisation": organisation}
        )
    value = purchase_amount_parse(amount)
    account, _created = CreditAccount.objects.get_or_create(organisation=organisation)
    if not account.stripe_customer_id:
        # Outside any lock: Stripe's idempotency key makes a racing second call return the same customer.
        customer_id = payments.customer_create(name=organisation.name, organisation_id=organisation.pk)
        CreditAccount.objects.filter(pk=account.pk).update(stripe_customer_id=customer_id)
        account.stripe_customer_id = customer_id
    purchase_id = uuid.uuid4()
    # The PaymentIntent first, then the row: a failure in between leaves an unconfirmed intent nobody can pay.
    intent = payments.payment_intent_create(
        purchase_id=str(purchase_id),
        amount_minor=int(value * 100),
        customer_id=account.stripe_customer_id,
        organisation_id=organisation.pk,
    )
    return CreditPurchase.objects.create(
        id=purchase_id,
        account=account,
        amount=value,
        payment_intent_id=intent["id"],
        client_secret=intent["client_secret"],
        created_by=by,
    )


def purchase_pay_with_test_card(*, purchase: CreditPurchase, card: dict[str, Any], by: User) -> CreditPurchase:
    """Pay a pending purchase with one of Stripe's test cards (development and tests, against the fake
    Stripe). A decline marks the purchase failed with the card's message; 3-D Secure leaves it waiting."""
    _check_payer(purchase, by)
    if purchase.status != Status.PENDING:
        raise CreditRefused(_("This payment is no longer waiting for a card."))
    try:
        intent = payments.test_card_confirm(
            payment_intent_id=purchase.payment_intent_id,
            customer_id=purchase.account.stripe_customer_id,
            card=card,
        )
    except payments.PaymentError as error:
        return purchase_fail(purchase=purchase, reason=str(error))
    return purchase_settle(purchase=purchase, intent=intent)


def purchase_authenticate_test(*, purchase: CreditPurchase, success: bool, by: User) -> CreditPurchase:
    """Answer the fake Stripe's 3-D Secure challenge for a purchase waiting on it, then settle it."""
    _check_payer(purchase, by)
    if purchase.status != Status.REQUIRES_ACTION:
        raise CreditRefused(_("This payment is not waiting for card authentication."))
    try:
        payments.test_three_d_secure_answer(
            payment_intent_id=purchase.payment_intent_id, client_secret=purchase.client_secret, success=success
        )
    except payments.PaymentError as error:
        return purchase_fail(purchase=purchase, reason=str(error))
    return purchase_sync(purchase=purchase)


def purchase_sync(*, purchase: CreditPurchase) -> CreditPurchase:
    """Ask Stripe how the purchase's PaymentIntent stands and settle the purchase by it (the payer's return
    from the Payment Element, or a webhook that has not come yet)."""
    if purchase.status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED):
        return purchase
    try:
        intent = payments.payment_intent_retrieve(purchase.payment_intent_id)
    except payments.PaymentError:
        return purchase  # Stripe unreachable: the webhook or the next look settles it
    return purchase_settle(purchase=purchase, intent=intent)


def purchase_settle(*, purchase: CreditPurchase, intent: Mapping[str, Any]) -> CreditPurchase:
    """Bring a purchase in line with its PaymentIntent as Stripe reports it: credit the account once when
    it succeeded, fail it with Stripe's reason when the payment failed. Idempotent under the account lock."""
    if intent["id"] != purchase.payment_intent_id:
        raise ValueError("the PaymentIntent is not this purchase's")
    status = intent["status"]
    if status == "succeeded":
        return _purchase_credit(purchase, intent)
    error = intent.get("last_payment_error")
    if status == "requires_payment_method" and error:
        return purchase_fail(purchase=purchase, reason=error.get("message") or _("The payment failed."))
    if status == "canceled":
        return purchase_fail(purchase=purchase, reason=_("The payment was cancelled."), status=Status.CANCELED)
    if status == "requires_action":
        CreditPurchase.objects.filter(pk=purchase.pk, status=Status.PENDING).update(status=Status.REQUIRES_ACTION)
    purchase.refresh_from_db()
    return purchase


def _purchase_credit(purchase: CreditPurchase, intent: Mapping[str, Any]) -> CreditPurchase:
    with transaction.atomic():
        account = CreditAccount.objects.select_for_update().get(pk=purchase.account_id)
        locked = CreditPurchase.objects.select_for_update().get(pk=purchase.pk)
        if locked.status == Status.SUCCEEDED:
            return locked
        if intent["amount"] != locked.amount_minor or intent["currency"] != settings.COMPUTE_CREDIT["CURRENCY"]:
            # Only Stripe can say this (the intent is signed or fetched by us); it would mean a bug, not a payer.
            log.error("a PaymentIntent's amount differs from its purchase", extra={"purchase_id": str(locked.pk)})
            raise ValueError("the PaymentIntent's amount or currency differs from the purchase")
        locked.status = Status.SUCCEEDED
        locked.failure_message = ""
        locked.settled_at = timezone.now()
        locked.save(update_fields=["status", "failure_message", "settled_at"])
        _entry_append(
            account=account,
            kind=LedgerEntry.Kind.PURCHASE,
            amount=locked.amount,
            purchase=locked,
            details={"payment_intent": locked.payment_intent_id},
        )
        locked.account = account
        publish(CreditPurchased.of(locked), key=account.organisation_id)
    return locked


def purchase_fail(*, purchase: CreditPurchase, reason: str, status: str = Status.FAILED) -> CreditPurchase:
    """Record that a purchase's payment failed (nothing is credited) and tell the payer why. A purchase
    already paid stays paid."""
    with transaction.atomic():
        locked = CreditPurchase.objects.select_for_update().select_related("account").get(pk=purchase.pk)
        if locked.status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED):
            return locked
        locked.status = status
        locked.failure_message = reason[:500]
        locked.settled_at = timezone.now()
        locked.save(update_fields=["status", "failure_message", "settled_at"])
        publish(CreditPurchaseFailed.of(locked), key=locked.account.organisation_id)
    return locked


def _check_payer(purchase: CreditPurchase, by: User) -> None:
    if purchase.created_by_id != by.pk:
        raise CreditRefused(_("Only the person who started this payment may pay it."))


def stripe_webhook_apply(*, payload: bytes, signature: str) -> str:
    """Apply one webhook delivery from Stripe, after checking its signature; returns what was done.

    Idempotent on Stripe's event id: a replayed delivery is recorded once and changes nothing more. Events
    that concern no purchase of ours are acknowledged and ignored.
    """
    import stripe

    try:
        event = payments.webhook_event(payload=payload, signature=signature)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise WebhookRefused(str(error)) from error
    intent = event["data"]["object"] if event["type"].startswith("payment_intent.") else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    id=event["id"], type=event["type"], payment_intent_id=intent["id"] if intent else ""
                )
        except IntegrityError:
            return "duplicate"
        if intent is None:
            return "ignored"
        purchase = CreditPurchase.objects.filter(payment_intent_id=intent["id"]).first()
        if purchase is None:
            return "ignored"
        if event["type"] == "payment_intent.payment_failed" and intent["status"] == "requires_payment_method":
            problem = intent.get("last_payment_error") or {}
            purchase_fail(purchase=purchase, reason=problem.get("message") or _("The payment failed."))
            return "failed"
        purchase_settle(purchase=purchase, intent=intent)
        return "applied"


def usage_cost(*, device_kind: str, cpu_seconds: float, wall_seconds: float) -> Decimal:
    """What a job's compute costs at the configured prices: CPU time always, and on a GPU its wall time."""
    cost = Decimal(str(cpu_seconds)) * _price("CPU_HOUR_PRICE") / SECONDS_PER_HOUR
    if device_kind == "gpu":
        cost += Decimal(str(wall_seconds)) * _price("GPU_HOUR_PRICE") / SECONDS_PER_HOUR
    return cost.quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)


def _subsidy_programme(organisation: Organisation, at: Any) -> SubsidyProgramme | None:
    programmes = SubsidyProgramme.objects.filter(starts_at__lte=at, ends_at__gt=at).order_by("-starts_at", "-pk")
    for programme in programmes:
        if not programme.eligible_kinds or organisation.kind in programme.eligible_kinds:
            return programme
    return None


def usage_charge(
    *,
    job_id: str,
    submission_id: int,
    organisation_id: int,
    device_kind: str,
    device_id: str,
    cpu_seconds: float,
    wall_seconds: float,
) -> LedgerEntry | None:
    """Charge one finished scoring job's compute to the organisation's credit, and let the active subsidy
    programme pay its share (as far as its fund's budget goes). A job already charged is not charged again;
    returns the usage entry, or None when it was."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        log.warning("a scoring job names an unknown organisation", extra={"organisation_id": organisation_id})
        return None
    cost = usage_cost(device_kind=device_kind, cpu_seconds=cpu_seconds, wall_seconds=wall_seconds)
    now = timezone.now()
    details = {
        "submission_id": submission_id,
        "device": device_kind,
        "device_id": device_id,
        "cpu_seconds": round(cpu_seconds, 3),
        "gpu_seconds": round(wall_seconds, 3) if device_kind == "gpu" else 0,
        "cpu_hour_price": str(settings.COMPUTE_CREDIT["CPU_HOUR_PRICE"]),
        "gpu_hour_price": str(settings.COMPUTE_CREDIT["GPU_HOUR_PRICE"]),
    }
    with transaction.atomic():
        account = _account_locked(organisation)
        if LedgerEntry.objects.filter(job_id=job_id, kind=LedgerEntry.Kind.USAGE).exists():
            return None
        usage = _entry_append(
            account=account, kind=LedgerEntry.Kind.USAGE, amount=-cost, job_id=job_id, details=details, at=now
        )
        programme = _subsidy_programme(organisation, now)
        if programme is not None and cost > 0:
            _subsidy_accrue(account=account, programme=programme, cost=cost, job_id=job_id, at=now)
    return usage


def _subsidy_accrue(
    *, account: CreditAccount, programme: SubsidyProgramme, cost: Decimal, job_id: str, at: Any
) -> None:
    """The programme pays its share of a job's cost, cut to what its fund has left (whole fen, since the
    fund's books are kept to the fen)."""
    fund = Fund.objects.select_for_update().get(pk=programme.fund_id)
    share = (cost * programme.share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    paid = min(share, fund.remaining)
    if paid <= 0:
        return
    Fund.objects.filter(pk=fund.pk).update(committed=F("committed") + paid, disbursed=F("disbursed") + paid)
    _entry_append(
        account=account,
        kind=LedgerEntry.Kind.SUBSIDY,
        amount=paid,
        job_id=job_id,
        programme=programme,
        details={"share": str(programme.share), "cost": str(cost)},
        at=at,
    )


def statements_announce(*, month: datetime.date) -> int:
    """Tell the members of every organisation whose account moved in `month` that its statement is ready;
    once per account and month, however often it runs. Returns how many were announced."""
    start, end = month_bounds(month)
    accounts = CreditAccount.objects.filter(entries__at__gte=start, entries__at__lt=end).exclude(
        statement_notices__month=start.date()
    )
    announced = 0
    for account in accounts.distinct().select_related("organisation"):
        with transaction.atomic():
            _notice, created = StatementNotice.objects.get_or_create(account=account, month=start.date())
            if not created:
                continue  # another run got here first
            report = statement(organisation=account.organisation, month=start.date())
            members = Membership.objects.filter(organisation=account.organisation, user__is_active=True)
            publish(
                StatementReady(
                    organisation_id=account.organisation_id,
                    month=f"{start:%Y-%m}",
                    used=f"{report.used:.2f}",
                    subsidised=f"{report.subsidised:.2f}",
                    closing_balance=f"{report.closing_balance:.2f}",
                    url=default_language_path("funds_credit:statement", account.organisation_id, f"{start:%Y-%m}"),
                    recipients=sorted(set(members.values_list("user_id", flat=True))),
                ),
                key=account.organisation_id,
            )
        announced += 1
    return announced

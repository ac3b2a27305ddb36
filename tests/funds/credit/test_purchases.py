"""Buying compute credit by card against the fake Stripe (localstripe) with Stripe's test cards: success,
declines, 3-D Secure completed or failed; bad amounts and strangers refused; credit added exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from funds.credit import payments
from funds.credit.models import CreditAccount, CreditPurchase, LedgerEntry
from funds.credit.services import (
    CreditRefused,
    purchase_authenticate_test,
    purchase_pay_with_test_card,
    purchase_settle,
    purchase_start,
    purchase_sync,
)
from hub.events.models import OutboxEvent
from tests.competitions.support import published
from tests.factories import UserFactory

Status = CreditPurchase.Status


def card(number: str) -> dict:
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def balance(organisation) -> Decimal:
    return CreditAccount.objects.get(organisation=organisation).balance


def test_a_paid_purchase_credits_the_account_once_and_tells_the_buyer(startup, buyer):
    purchase = purchase_start(organisation=startup, amount="500", by=buyer)
    intent = payments.payment_intent_retrieve(purchase.payment_intent_id)
    assert (intent["amount"], intent["currency"], intent["metadata"]["purchase_id"]) == (50000, "cny", str(purchase.pk))

    paid = purchase_pay_with_test_card(purchase=purchase, card=card("4242424242424242"), by=buyer)
    assert paid.status == Status.SUCCEEDED and balance(startup) == Decimal("500")
    # Settling again (the webhook arriving after our own check) adds nothing.
    purchase_settle(purchase=paid, intent=payments.payment_intent_retrieve(purchase.payment_intent_id))
    purchase_sync(purchase=paid)
    [entry] = LedgerEntry.objects.filter(account__organisation=startup)
    assert (entry.kind, entry.amount, entry.balance_after, entry.purchase_id) == ("purchase", 500, 500, purchase.pk)
    [event] = published("funds.credit.purchased.v1")
    assert event["recipients"] == [buyer.pk] and (event["amount"], event["balance"]) == ("500.00", "500.00")


@pytest.mark.parametrize("number", ["4000000000000002", "4000000000000341"])
def test_a_declined_card_fails_the_purchase_with_the_reason_and_credits_nothing(startup, buyer, number):
    purchase = purchase_start(organisation=startup, amount="99.50", by=buyer)
    failed = purchase_pay_with_test_card(purchase=purchase, card=card(number), by=buyer)
    assert failed.status == Status.FAILED and "declined" in failed.failure_message
    assert not LedgerEntry.objects.exists() and balance(startup) == 0
    assert OutboxEvent.objects.filter(type="funds.credit.purchase_failed.v1").count() == 1
    # A failed purchase takes no second card.
    with pytest.raises(CreditRefused):
        purchase_pay_with_test_card(purchase=failed, card=card("4242424242424242"), by=buyer)


def test_three_d_secure_waits_for_the_card_holder_then_credits(startup, buyer):
    purchase = purchase_start(organisation=startup, amount="200", by=buyer)
    waiting = purchase_pay_with_test_card(purchase=purchase, card=card("4000002760003184"), by=buyer)
    assert waiting.status == Status.REQUIRES_ACTION and balance(startup) == 0
    done = purchase_authenticate_test(purchase=waiting, success=True, by=buyer)
    assert done.status == Status.SUCCEEDED and balance(startup) == Decimal("200")


def test_failed_three_d_secure_fails_the_purchase(startup, buyer):
    purchase = purchase_start(organisation=startup, amount="200", by=buyer)
    waiting = purchase_pay_with_test_card(purchase=purchase, card=card("4000002760003184"), by=buyer)
    failed = purchase_authenticate_test(purchase=waiting, success=False, by=buyer)
    assert failed.status == Status.FAILED and "authentication" in failed.failure_message
    assert balance(startup) == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-50", "Buy between"),
        ("0", "Buy between"),
        ("9.99", "Buy between"),
        ("100000.01", "Buy between"),
        ("1e9", "Buy between"),
        ("10.001", "two decimal places"),
        ("NaN", "two decimal places"),
        ("十元", "as a number"),
    ],
)
def test_bad_amounts_are_refused_before_stripe_is_asked(startup, buyer, amount, message):
    with pytest.raises(CreditRefused, match=message):
        purchase_start(organisation=startup, amount=amount, by=buyer)
    assert not CreditPurchase.objects.exists()


def test_only_members_buy_and_only_the_buyer_pays(startup, buyer):
    stranger = UserFactory()
    with pytest.raises(CreditRefused, match="Only members"):
        purchase_start(organisation=startup, amount="100", by=stranger)
    purchase = purchase_start(organisation=startup, amount="100", by=buyer)
    with pytest.raises(CreditRefused, match="Only the person"):
        purchase_pay_with_test_card(purchase=purchase, card=card("4242424242424242"), by=stranger)
    assert CreditPurchase.objects.get().status == Status.PENDING


def test_the_ledger_is_append_only_in_the_database(startup, buyer):
    from django.db import connection

    purchase = purchase_pay_with_test_card(
        purchase=purchase_start(organisation=startup, amount="100", by=buyer), card=card("4242424242424242"), by=buyer
    )
    entry = LedgerEntry.objects.get(purchase=purchase)
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE funds_credit_ledgerentry SET amount = 1000 WHERE id = %s", [entry.pk])


def test_the_buyer_is_told_of_the_payment_in_their_language(startup, buyer):
    from hub.notifications.models import Notification
    from tests.support import consumer

    buyer.language = "en"
    buyer.save(update_fields=["language"])
    paid = purchase_pay_with_test_card(
        purchase=purchase_start(organisation=startup, amount="120", by=buyer), card=card("4242424242424242"), by=buyer
    )
    declined = purchase_pay_with_test_card(
        purchase=purchase_start(organisation=startup, amount="60", by=buyer), card=card("4000000000000002"), by=buyer
    )
    for body in (
        OutboxEvent.objects.filter(type__startswith="funds.credit.").order_by("id").values_list("body", flat=True)
    ):
        consumer("notifier").apply(body)
    added, failed = Notification.objects.filter(user=buyer).order_by("id")
    assert added.title == "¥120.00 of compute credit added" and added.url == f"/en/funds/credit/purchases/{paid.pk}/"
    assert "balance is now 120.00 yuan" in added.body
    assert failed.title == "Your payment of ¥60.00 for compute credit failed" and "declined" in failed.body
    assert failed.url.endswith(f"/purchases/{declined.pk}/")

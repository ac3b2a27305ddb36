"""Stripe's webhook, with real signatures: localstripe posts its signed events to a live server and the
purchase is credited once; a replayed delivery changes nothing; forged or altered ones are refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests
from django.conf import settings

from funds.credit import payments
from funds.credit.models import CreditAccount, CreditPurchase, LedgerEntry, StripeEvent
from funds.credit.services import purchase_start
from tests.support import wait_for

Status = CreditPurchase.Status
CARD = {"exp_month": 12, "exp_year": 2030, "cvc": "123"}


def post(url: str, payload: bytes, signature: str) -> requests.Response:
    return requests.post(url, data=payload, headers={"Stripe-Signature": signature}, timeout=10)


def signed(payload: bytes, secret: str, at: int | None = None) -> str:
    """A Stripe-Signature header for `payload`, as Stripe computes it."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def pay_in_the_browser(purchase: CreditPurchase, number: str) -> None:
    """What Stripe's Payment Element does: confirm the PaymentIntent with Stripe directly, not through us."""
    payments.test_card_confirm(
        payment_intent_id=purchase.payment_intent_id,
        customer_id=CreditAccount.objects.get(pk=purchase.account_id).stripe_customer_id,
        card={"number": number, **CARD},
    )


def stripe_event(payment_intent_id: str, type_name: str) -> dict:
    """The event localstripe sent, from its events list."""
    listed = requests.get(
        f"{settings.STRIPE_API_BASE}/v1/events",
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        params={"limit": 100},
        timeout=10,
    ).json()["data"]
    return next(e for e in listed if e["type"] == type_name and e["data"]["object"]["id"] == payment_intent_id)


@pytest.fixture
def purchase(startup, buyer) -> CreditPurchase:
    return purchase_start(organisation=startup, amount="300", by=buyer)


def test_a_signed_webhook_credits_the_purchase_once_and_its_replay_changes_nothing(stripe_webhook, purchase, startup):
    pay_in_the_browser(purchase, "4242424242424242")

    def credited() -> bool:
        return CreditPurchase.objects.get(pk=purchase.pk).status == Status.SUCCEEDED

    wait_for(credited, timeout=20)
    assert CreditAccount.objects.get(organisation=startup).balance == 300
    event = stripe_event(purchase.payment_intent_id, "payment_intent.succeeded")
    assert StripeEvent.objects.filter(pk=event["id"]).exists()

    payload = json.dumps(event).encode()
    replay = post(stripe_webhook, payload, signed(payload, settings.STRIPE_WEBHOOK_SECRET))
    assert (replay.status_code, replay.text) == (200, "duplicate")
    assert LedgerEntry.objects.count() == 1 and CreditAccount.objects.get(organisation=startup).balance == 300


def test_a_failed_payment_reported_by_webhook_fails_the_purchase(stripe_webhook, purchase):
    with pytest.raises(payments.PaymentError):
        pay_in_the_browser(purchase, "4000000000000341")

    def failed() -> bool:
        return CreditPurchase.objects.get(pk=purchase.pk).status == Status.FAILED

    wait_for(failed, timeout=20)
    assert "declined" in CreditPurchase.objects.get(pk=purchase.pk).failure_message
    assert not LedgerEntry.objects.exists()


def forged_success(purchase: CreditPurchase) -> bytes:
    """A payment_intent.succeeded event for a purchase nobody paid."""
    intent = payments.payment_intent_retrieve(purchase.payment_intent_id)
    intent["status"] = "succeeded"
    event = {"id": "evt_forged", "object": "event", "type": "payment_intent.succeeded", "data": {"object": intent}}
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "signature",
    [
        lambda payload: signed(payload, "whsec_someone_else"),
        lambda payload: signed(payload, settings.STRIPE_WEBHOOK_SECRET, at=int(time.time()) - 3600),  # stale
        lambda payload: signed(payload + b" ", settings.STRIPE_WEBHOOK_SECRET),  # signs other bytes
        lambda payload: "",
    ],
    ids=["wrong-secret", "stale", "altered", "unsigned"],
)
def test_a_forged_webhook_is_refused_and_changes_nothing(stripe_webhook, purchase, signature):
    payload = forged_success(purchase)
    response = post(stripe_webhook, payload, signature(payload))
    assert response.status_code == 400
    assert CreditPurchase.objects.get(pk=purchase.pk).status == Status.PENDING
    assert not LedgerEntry.objects.exists() and not StripeEvent.objects.filter(pk="evt_forged").exists()


def test_a_webhook_of_no_purchase_of_ours_is_acknowledged(stripe_webhook):
    event = {"id": "evt_other", "object": "event", "type": "customer.created", "data": {"object": {}}}
    payload = json.dumps(event).encode()
    response = post(stripe_webhook, payload, signed(payload, settings.STRIPE_WEBHOOK_SECRET))
    assert (response.status_code, response.text) == (200, "ignored")

"""The one place that talks to Stripe: PaymentIntents for credit, webhook signatures, and the test-card
steps the fake Stripe needs in development and tests.

In production the browser confirms the PaymentIntent with Stripe's Payment Element. Against localstripe
(settings.STRIPE_TEST_CARDS) our payment page takes a test card number instead and these functions do what
Stripe.js would: create the PaymentMethod, attach it, confirm, and answer the 3-D Secure challenge.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import requests
import stripe
from django.conf import settings


class PaymentError(Exception):
    """Stripe refused or could not be reached; the message is safe to show to the payer."""


@cache
def _client(api_base: str, secret_key: str) -> stripe.StripeClient:
    # No automatic retries: each call site is idempotent by key or by check, and a payer waits on it.
    return stripe.StripeClient(secret_key, base_addresses={"api": api_base}, max_network_retries=0)


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_API_BASE, settings.STRIPE_SECRET_KEY)


def _stripe_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one Stripe call; card problems and outages become PaymentError with a message for the payer."""
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as error:
        raise PaymentError(error.user_message or str(error)) from error
    except stripe.APIConnectionError as error:
        raise PaymentError("The payment service cannot be reached; please try again in a minute.") from error
    except stripe.StripeError as error:
        raise PaymentError(error.user_message or "The payment service refused the request.") from error


def customer_create(*, name: str, organisation_id: int) -> str:
    customer = _stripe_call(
        client().v1.customers.create,
        params={"name": name, "metadata": {"organisation_id": str(organisation_id)}},
        options={"idempotency_key": f"organisation-{organisation_id}-customer"},
    )
    return str(customer.id)


def payment_intent_create(
    *, purchase_id: str, amount_minor: int, customer_id: str, organisation_id: int
) -> dict[str, Any]:
    """A PaymentIntent for one purchase; the purchase id is the idempotency key, so a retried request
    never makes a second one."""
    intent = _stripe_call(
        client().v1.payment_intents.create,
        params={
            "amount": amount_minor,
            "currency": settings.COMPUTE_CREDIT["CURRENCY"],
            "customer": customer_id,
            "payment_method_types": ["card"],
            "metadata": {"purchase_id": purchase_id, "organisation_id": str(organisation_id)},
        },
        options={"idempotency_key": f"credit-purchase-{purchase_id}"},
    )
    return intent.to_dict()


def payment_intent_retrieve(payment_intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as Stripe has it now, as plain data."""
    return _stripe_call(client().v1.payment_intents.retrieve, payment_intent_id).to_dict()


def test_card_confirm(*, payment_intent_id: str, customer_id: str, card: dict[str, Any]) -> dict[str, Any]:
    """What Stripe.js does with a card, done on the server against the fake Stripe: returns the confirmed
    PaymentIntent (succeeded, or requires_action for 3-D Secure); a declined card raises PaymentError."""
    assert settings.STRIPE_TEST_CARDS, "raw card numbers are only ever sent to the fake Stripe"
    v1 = client().v1
    method = _stripe_call(v1.payment_methods.create, params={"type": "card", "card": card})
    _stripe_call(v1.payment_methods.attach, method.id, params={"customer": customer_id})
    _stripe_call(v1.payment_intents.update, payment_intent_id, params={"payment_method": method.id})
    return _stripe_call(v1.payment_intents.confirm, payment_intent_id).to_dict()


def test_three_d_secure_answer(*, payment_intent_id: str, client_secret: str, success: bool) -> None:
    """Complete or fail the fake Stripe's 3-D Secure challenge (Stripe's own page does this in production)."""
    assert settings.STRIPE_TEST_CARDS, "only the fake Stripe has a challenge endpoint"
    try:
        response = requests.post(
            f"{settings.STRIPE_API_BASE}/v1/payment_intents/{payment_intent_id}/_authenticate",
            data={"client_secret": client_secret, "success": "true" if success else "false"},
            headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
            timeout=10,
        )
    except requests.RequestException as error:
        raise PaymentError("The payment service cannot be reached; please try again in a minute.") from error
    if response.status_code == 402:
        raise PaymentError(response.json().get("error", {}).get("message", "Your card was declined."))
    if response.status_code >= 400:
        raise PaymentError("The payment service refused the authentication.")


def webhook_event(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The verified event of a webhook delivery, as plain data; stripe.SignatureVerificationError if it is
    forged, altered or older than Stripe's tolerance (5 minutes), ValueError if it is not JSON."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET).to_dict()

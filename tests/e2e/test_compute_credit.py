"""A startup's member buys compute credit in a browser: amount, a 3-D Secure test card, the bank's
challenge, and the balance; localstripe's signed webhook reaches the real server too. axe finds nothing
serious on the account and payment pages."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import Browser, expect

from funds.credit.models import CreditPurchase, LedgerEntry, StripeEvent
from hub.accounts.models import Organisation, Role
from infra.stack import webhook_register
from tests.e2e.test_funds_application import log_in, serious_violations
from tests.factories import MembershipFactory, OrganisationFactory
from tests.support import wait_for


@pytest.fixture
def site(request, service_env) -> str:
    """The English site, with the fake Stripe posting its webhooks to it."""
    base = request.getfixturevalue("live_server_url")
    webhook_register(
        api_base=settings.STRIPE_API_BASE,
        url=f"{base}/webhooks/stripe/",
        secret=settings.STRIPE_WEBHOOK_SECRET,
        name="tests",
    )
    return f"{base}/en"


def test_a_member_buys_credit_through_three_d_secure(browser: Browser, site):
    startup = OrganisationFactory(name="星火智能科技", kind=Organisation.Kind.STARTUP)
    page = log_in(browser, site, MembershipFactory(organisation=startup, role=Role.STARTUP_MEMBER).user)

    page.goto(f"{site}/funds/")
    page.get_by_role("link", name="Compute credit").click()
    expect(page.locator("#credit-balance")).to_have_text("¥0.00")
    assert serious_violations(page) == []

    page.get_by_label("Amount (CNY)").fill("3")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("Buy between ¥10.00 and ¥100000.00 at a time.")).to_be_visible()
    page.get_by_label("Amount (CNY)").fill("200")
    page.get_by_role("button", name="Continue to payment").click()

    page.get_by_label("4000 0027 6000 3184: asks for 3-D Secure authentication").check()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Pay ¥200.00").click()
    expect(page.locator("#purchase-status")).to_contain_text("Awaiting card authentication")
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.locator("#purchase-status")).to_contain_text("Paid")

    page.get_by_role("link", name="Back to the account").click()
    expect(page.locator("#credit-balance")).to_have_text("¥200.00")
    purchase = CreditPurchase.objects.get()
    assert LedgerEntry.objects.get().purchase == purchase

    def webhook_arrived() -> bool:
        return StripeEvent.objects.filter(
            payment_intent_id=purchase.payment_intent_id, type="payment_intent.succeeded"
        ).exists()

    wait_for(webhook_arrived, timeout=20)
    assert LedgerEntry.objects.count() == 1  # the webhook found the purchase already credited

"""The compute credit pages: who sees what, buying with test cards through the pages (3-D Secure too),
clear errors for bad amounts and cards, statements and their CSV, a programme's accruals for its managers."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from funds.credit.models import CreditPurchase, LedgerEntry
from funds.credit.services import purchase_start
from tests.factories import UserFactory
from tests.funds.credit.factories import SubsidyProgrammeFactory
from tests.funds.credit.support import gpu_job

CARD = {"exp_month": "12", "exp_year": "2030", "cvc": "123"}


@pytest.fixture
def member(client, buyer):
    client.force_login(buyer)
    return client


def en(name: str, *args) -> str:
    """The English page's path."""
    with translation.override("en"):
        return reverse(name, args=args)


def test_anonymous_visitors_are_sent_to_sign_in(client, startup):
    for url in (en("funds_credit:overview"), en("funds_credit:account", startup.pk)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("buyer", 200),
        ("applicant", 200),  # any member of the organisation
        ("manager", 404),
        ("other_manager", 404),
        ("reviewer", 404),
        ("anonymous", 302),
    ],
)
def test_an_organisations_credit_pages_are_for_its_members(client, request, startup, who, expected):
    """The funds roles (tests/funds/conftest.py) against the startup's account, statement and CSV."""
    users = {
        "buyer": request.getfixturevalue("buyer"),
        "applicant": request.getfixturevalue("applicant"),
        "manager": request.getfixturevalue("manager"),
        "other_manager": request.getfixturevalue("other_manager"),
        "reviewer": request.getfixturevalue("reviewers")[0],
    }
    if who in users:
        client.force_login(users[who])
    month = timezone.localdate().strftime("%Y-%m")
    for url in (
        en("funds_credit:account", startup.pk),
        en("funds_credit:statement", startup.pk, month),
        en("funds_credit:statement_csv", startup.pk, month),
    ):
        assert client.get(url).status_code == expected, url
    if expected != 200:
        assert client.post(en("funds_credit:account", startup.pk), {"amount": "100"}).status_code == expected
        assert not CreditPurchase.objects.exists()


def test_strangers_see_no_account_statement_or_payment(client, startup, buyer):
    purchase = purchase_start(organisation=startup, amount="100", by=buyer)
    client.force_login(UserFactory())
    month = timezone.localdate().strftime("%Y-%m")
    for url in (
        en("funds_credit:account", startup.pk),
        en("funds_credit:statement", startup.pk, month),
        en("funds_credit:statement_csv", startup.pk, month),
        en("funds_credit:purchase", purchase.pk),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(en("funds_credit:pay", purchase.pk), {"number": "4242424242424242", **CARD}).status_code == 404
    assert CreditPurchase.objects.get().status == "pending"


def test_a_member_buys_credit_with_a_test_card(member, startup):
    assert member.get(en("funds_credit:overview")).url == en("funds_credit:account", startup.pk)  # one organisation
    page = member.get(en("funds_credit:account", startup.pk))
    assert "¥0.00" in page.text and "No entries yet." in page.text

    bad = member.post(en("funds_credit:account", startup.pk), {"amount": "5"})
    assert bad.status_code == 400 and "Buy between" in bad.text and not CreditPurchase.objects.exists()

    started = member.post(en("funds_credit:account", startup.pk), {"amount": "250"})
    purchase = CreditPurchase.objects.get()
    assert started.url == en("funds_credit:purchase", purchase.pk)
    assert "4242 4242 4242 4242" in member.get(started.url).text

    missing_cvc = member.post(en("funds_credit:pay", purchase.pk), {"number": "4242424242424242", "cvc": "1"})
    assert missing_cvc.status_code == 400 and "Expiry month" in missing_cvc.text

    member.post(en("funds_credit:pay", purchase.pk), {"number": "4242424242424242", **CARD})
    done = member.get(started.url)
    assert "Paid" in done.text and "the credit has been added" in done.text
    assert "¥250.00" in member.get(en("funds_credit:account", startup.pk)).text


def started_purchase(member, startup) -> CreditPurchase:
    """A purchase of ¥80 started on the account page."""
    member.post(en("funds_credit:account", startup.pk), {"amount": "80"})
    return CreditPurchase.objects.get()


def test_three_d_secure_through_the_pages(member, startup):
    purchase = started_purchase(member, startup)
    member.post(en("funds_credit:pay", purchase.pk), {"number": "4000002760003184", **CARD})
    waiting = member.get(en("funds_credit:purchase", purchase.pk))
    assert "Complete authentication" in waiting.text and "Awaiting card authentication" in waiting.text
    member.post(en("funds_credit:authenticate", purchase.pk), {"outcome": "complete"})
    assert "Paid" in member.get(en("funds_credit:purchase", purchase.pk)).text


def test_a_declined_card_is_explained_and_nothing_is_credited(member, startup):
    purchase = started_purchase(member, startup)
    member.post(en("funds_credit:pay", purchase.pk), {"number": "4000000000000002", **CARD})
    page = member.get(en("funds_credit:purchase", purchase.pk))
    assert "Your card was declined." in page.text and "Nothing was charged" in page.text
    assert not LedgerEntry.objects.exists()


def test_the_statement_and_its_csv(member, startup):
    gpu_job(startup.pk, gpu_seconds=600, cpu_seconds=12.5, submission_id=42)
    month = timezone.localdate().strftime("%Y-%m")
    page = member.get(en("funds_credit:statement", startup.pk, month))
    assert page.status_code == 200 and "600.0 GPU seconds" in page.text and "submission 42" in page.text
    csv = b"".join(member.get(en("funds_credit:statement_csv", startup.pk, month)).streaming_content).decode()
    assert csv.startswith("\ufefftime,kind") and "Compute used,-2.0021" in csv
    assert member.get(en("funds_credit:statement", startup.pk, "2026-13")).status_code == 404


def test_a_programmes_accruals_are_for_its_funds_managers(client, startup):
    manager = UserFactory()
    programme = SubsidyProgrammeFactory(fund__managers=[manager])
    gpu_job(startup.pk, gpu_seconds=3600)
    client.force_login(UserFactory())
    assert client.get(en("funds_credit:programme", programme.pk)).status_code == 404
    client.force_login(manager)
    page = client.get(en("funds_credit:programme", programme.pk))
    assert startup.name in page.text and "6.00" in page.text  # half of ¥12
    earlier = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    assert (
        "No subsidies paid this month."
        in client.get(en("funds_credit:programme", programme.pk), {"month": earlier}).text
    )


def test_the_webhook_takes_only_posts(client):
    assert client.get("/webhooks/stripe/").status_code == 405

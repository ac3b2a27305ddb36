"""Fixtures of the compute credit tests: a startup with a member who buys, and the fake Stripe's webhook
pointed at a live test server."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from hub.accounts.models import Organisation, Role, User
from infra.stack import webhook_register
from tests.factories import MembershipFactory, OrganisationFactory


@pytest.fixture
def startup(db) -> Organisation:
    return OrganisationFactory(name="星火智能科技", kind=Organisation.Kind.STARTUP)


@pytest.fixture
def buyer(startup: Organisation) -> User:
    return MembershipFactory(organisation=startup, role=Role.STARTUP_MEMBER).user


@pytest.fixture
def stripe_webhook(live_server) -> str:
    """localstripe signs and posts its events to this test's live server (one registration, replaced by
    each test that asks for it, so no earlier server is posted to)."""
    url = f"{live_server.url}/webhooks/stripe/"
    webhook_register(
        api_base=django_settings.STRIPE_API_BASE, url=url, secret=django_settings.STRIPE_WEBHOOK_SECRET, name="tests"
    )
    return url

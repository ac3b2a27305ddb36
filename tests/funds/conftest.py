"""Fixtures of the funds tests: a fund with its manager, another fund's manager, an open call with a
rubric and a pool of three reviewers, and a startup with two members."""

from __future__ import annotations

from decimal import Decimal

import pytest

from funds.models import Call, Fund
from hub.accounts.models import Organisation, User
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.funds.factories import CallFactory, CriterionFactory, FundFactory, PoolReviewerFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    """Factories set a password for every user; a slow hash only makes these tests slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def manager(db) -> User:
    return UserFactory(display_name="基金经理")


@pytest.fixture
def fund(manager: User) -> Fund:
    return FundFactory(managers=[manager])


@pytest.fixture
def other_manager(db) -> User:
    """Manages another fund, not `fund`."""
    user = UserFactory(display_name="另一基金经理")
    FundFactory(managers=[user])
    return user


@pytest.fixture
def call(fund: Fund) -> Call:
    """Open now; rubric: innovation (weight 2, out of 10) and feasibility (weight 1, out of 5)."""
    call = CallFactory(fund=fund)
    CriterionFactory(call=call, title="创新性", weight=Decimal("2"), max_score=10)
    CriterionFactory(call=call, title="可行性", title_en="Feasibility", weight=Decimal("1"), max_score=5)
    return call


@pytest.fixture
def reviewers(call: Call) -> list[User]:
    return [PoolReviewerFactory(call=call).reviewer for _ in range(3)]


@pytest.fixture
def startup(db) -> Organisation:
    return OrganisationFactory(name="合肥深视科技有限公司", kind=Organisation.Kind.STARTUP, region="合肥市")


@pytest.fixture
def applicant(startup: Organisation) -> User:
    return MembershipFactory(organisation=startup).user


@pytest.fixture
def co_applicant(startup: Organisation) -> User:
    return MembershipFactory(organisation=startup).user

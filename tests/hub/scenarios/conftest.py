"""Fixtures of the scenario tests: a publisher and a startup member with their organisations, files."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hub.accounts.models import Organisation, Role, User
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory


@dataclass
class Member:
    user: User
    organisation: Organisation


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test stores its files in its own MEDIA_ROOT and PRIVATE_MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def publisher(db) -> Member:
    """A member of a government body that publishes scenarios."""
    organisation = OrganisationFactory(name="宣城市科学技术局", kind=Organisation.Kind.GOVERNMENT)
    return Member(MembershipFactory(organisation=organisation, role=Role.EDITOR).user, organisation)


@pytest.fixture
def startup(db) -> Member:
    """A member of a startup that answers scenarios."""
    organisation = OrganisationFactory(name="星火智能科技", kind=Organisation.Kind.STARTUP)
    return Member(MembershipFactory(organisation=organisation, role=Role.STARTUP_MEMBER).user, organisation)


@pytest.fixture
def outsider(db) -> Member:
    """A member of an unrelated enterprise: neither publisher nor startup."""
    organisation = OrganisationFactory(name="芜湖某装备公司", kind=Organisation.Kind.ENTERPRISE)
    return Member(MembershipFactory(organisation=organisation, role=Role.ADMIN).user, organisation)


@pytest.fixture
def staff(db) -> User:
    return UserFactory(is_staff=True)

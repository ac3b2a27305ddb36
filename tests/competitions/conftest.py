"""Fixtures of the competition tests: a host, entrants in a team, an open phase, and private files."""

from __future__ import annotations

import pytest

from competitions.models import Competition, Phase, Team
from hub.accounts.models import Organisation, Role, User
from tests.competitions.factories import CompetitionFactory, PhaseFactory, TeamFactory
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test stores its files in its own MEDIA_ROOT and PRIVATE_MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def host(db) -> User:
    """A competition host of the host organisation of `competition`."""
    organisation = OrganisationFactory(name="安徽省人工智能产业创新中心", kind=Organisation.Kind.GOVERNMENT)
    return MembershipFactory(organisation=organisation, role=Role.COMPETITION_HOST).user


@pytest.fixture
def competition(host: User) -> Competition:
    return CompetitionFactory(host=host.memberships.get().organisation)


@pytest.fixture
def phase(competition: Competition) -> Phase:
    """Open now: takes predictions files and ONNX models, 2 a day per team."""
    return PhaseFactory(competition=competition, daily_limit=2)


@pytest.fixture
def entrant(db) -> User:
    return UserFactory()


@pytest.fixture
def team(competition: Competition, entrant: User) -> Team:
    return TeamFactory(competition=competition, members=[entrant])

"""The fast track: a competition phase closes with its final ranking, and funds invites the organisations
of the top teams to the calls linked to that competition (funds reads only the event)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from competitions.models import Phase
from competitions.services import phase_close
from funds.models import FastTrackInvitation
from funds.services import fast_track_invite
from hub.accounts.models import Organisation, Role, User
from hub.events.models import OutboxEvent
from hub.notifications.models import Notification
from tests.competitions.factories import CompetitionFactory, PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import score
from tests.factories import MembershipFactory, OrganisationFactory
from tests.funds.factories import CallFactory
from tests.support import consumer


@pytest.fixture
def winner(db) -> User:
    """A member of 甲公司, whose team 甲队 wins."""
    return MembershipFactory(organisation=OrganisationFactory(name="甲公司"), role=Role.STARTUP_MEMBER).user


@pytest.fixture
def closed_phase(settings, tmp_path, winner) -> Phase:
    """A closed phase ranked: 甲队 (0.9), 乙队 (0.8, no organisation), 丙队 (0.7), 丁队 (0.6)."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    host = MembershipFactory(role=Role.COMPETITION_HOST)
    competition = CompetitionFactory(host=host.organisation)
    phase = PhaseFactory(competition=competition)
    for name, result, organisation in (
        ("甲队", 0.9, Organisation.objects.get(name="甲公司")),
        ("乙队", 0.8, None),
        ("丙队", 0.7, OrganisationFactory(name="丙公司")),
        ("丁队", 0.6, OrganisationFactory(name="丁公司")),
    ):
        team = TeamFactory(competition=competition, name=name, organisation=organisation)
        score(SubmissionFactory(phase=phase, team=team), public=result, private=result)
    Phase.objects.filter(pk=phase.pk).update(ends_at=timezone.now())
    phase_close(phase=phase, by=host.user)
    return phase


def test_the_top_teams_organisations_are_invited_once_and_their_members_told(closed_phase, winner):
    competition_id = closed_phase.competition_id
    linked = CallFactory(fast_track_competition_id=competition_id, fast_track_top=3)
    unlinked = CallFactory(fast_track_competition_id=competition_id + 1000, fast_track_top=3)
    closed = CallFactory(
        fast_track_competition_id=competition_id,
        fast_track_top=3,
        opens_at=timezone.now() - datetime.timedelta(days=10),
        closes_at=timezone.now() - datetime.timedelta(days=1),
    )
    body = OutboxEvent.objects.get(type="competitions.phase.closed.v1").body
    assert consumer("funds").apply(body).value == "applied"
    assert consumer("funds").apply(body).value == "duplicate"

    invited = list(FastTrackInvitation.objects.filter(call=linked).order_by("rank"))
    # Ranks 1..3: 甲 (1), 乙 has no organisation (passed over), 丙 (3); 丁 (4) is outside the top 3.
    assert [(i.organisation.name, i.rank, i.team_name) for i in invited] == [
        ("甲公司", 1, "甲队"),
        ("丙公司", 3, "丙队"),
    ]
    assert not FastTrackInvitation.objects.filter(call__in=[unlinked, closed]).exists()
    again = [{"rank": 1, "team_name": "甲队", "organisation_id": invited[0].organisation_id}]
    assert fast_track_invite(competition_id=competition_id, phase_id=closed_phase.pk, ranking=again) == []

    events = list(OutboxEvent.objects.filter(type="funds.fast_track.invited.v1").order_by("id"))
    assert len(events) == 2
    consumer("notifier").apply(events[0].body)
    notification = Notification.objects.get(user=winner)
    assert linked.title in notification.title and notification.url == f"/funds/calls/{linked.pk}/"
    assert "甲队" in notification.body

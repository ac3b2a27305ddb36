"""Demo scenario calls load idempotently; the Django admin shows scenarios and proposals read-only."""

import pytest

from hub.accounts import demo as accounts_demo
from hub.accounts.models import User
from hub.events.models import OutboxEvent
from hub.scenarios import demo
from hub.scenarios.models import Proposal, Scenario
from hub.sectors import SECTORS
from tests.factories import UserFactory
from tests.hub.scenarios.factories import ProposalFactory, ScenarioFactory

pytestmark = pytest.mark.django_db


def test_the_demo_loads_published_scenarios_and_one_proposal_and_loads_again_unchanged():
    list(accounts_demo.load())
    lines = list(demo.load())
    assert any("publisher" in line for line in lines)
    scenarios = Scenario.objects.all()
    assert 6 <= scenarios.count() <= 8
    assert all(s.is_public and s.title_en for s in scenarios)
    assert len({s.sector for s in scenarios}) >= 6 and len({s.city for s in scenarios}) >= 4
    assert {s.sector for s in scenarios} <= set(SECTORS)
    assert {s.organisation.kind for s in scenarios} == {"government", "enterprise"}
    (proposal,) = Proposal.objects.all()
    assert (proposal.status, proposal.organisation.name) == ("submitted", "星火智能科技（合肥）有限公司")
    publisher = User.objects.get(username="publisher")
    assert publisher.display_name == "孙发布"
    assert publisher.memberships.get().organisation.name == "宣城智造装备有限公司"
    events = OutboxEvent.objects.count()

    list(accounts_demo.load())
    list(demo.load())
    assert (Scenario.objects.count(), Proposal.objects.count(), OutboxEvent.objects.count()) == (
        scenarios.count(),
        1,
        events,
    )


def test_staff_read_scenarios_and_proposals_in_the_admin_but_change_nothing(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    proposal = ProposalFactory(scenario=ScenarioFactory(title="智慧农业"))
    assert "智慧农业" in client.get("/django-admin/scenarios/scenario/").content.decode()
    assert client.get(f"/django-admin/scenarios/scenario/{proposal.scenario_id}/change/").status_code == 200
    assert client.get(f"/django-admin/scenarios/proposal/{proposal.pk}/change/").status_code == 200
    assert client.get("/django-admin/scenarios/scenario/add/").status_code == 403
    response = client.post(f"/django-admin/scenarios/scenario/{proposal.scenario_id}/change/", {"title": "改"})
    assert response.status_code == 403
    assert Scenario.objects.get().title == "智慧农业"

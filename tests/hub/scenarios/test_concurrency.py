"""Writes that race: versions stay unique and gapless, and a startup never ends up with two live proposals."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from django.db import connection

from hub.scenarios.models import Proposal
from hub.scenarios.services import ProposalRefused, proposal_save_draft, scenario_update
from tests.hub.scenarios.factories import ScenarioFactory
from tests.hub.scenarios.support import published

pytestmark = pytest.mark.django_db(transaction=True)


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; each result, or the exception it raised."""
    start = Barrier(count)

    def run(i: int) -> Any:
        start.wait()
        try:
            return work(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_changes_get_one_version_each(publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation, city="宣城市")
    cities = ["合肥市", "芜湖市", "蚌埠市", "安庆市", "黄山市", "阜阳市"]  # each one a real change
    results = race(6, lambda i: scenario_update(scenario=scenario, by=publisher.user, fields={"city": cities[i]}))
    assert not [r for r in results if isinstance(r, Exception)]
    versions = sorted(event["version"] for event in published("scenarios.scenario.updated.v1"))
    assert versions == [2, 3, 4, 5, 6, 7]
    scenario.refresh_from_db()
    assert scenario.revision == 7


def test_two_tabs_drafting_at_once_leave_one_live_proposal(startup):
    scenario = ScenarioFactory()
    results = race(
        4,
        lambda i: proposal_save_draft(
            scenario=scenario, organisation=startup.organisation, by=startup.user, fields={"summary": f"第{i}稿"}
        ),
    )
    assert all(isinstance(r, Proposal | ProposalRefused) for r in results), results
    assert Proposal.objects.filter(scenario=scenario, organisation=startup.organisation).count() == 1

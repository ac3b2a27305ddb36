"""Writes that race: a team's last slot and a team's last place each go to exactly one entrant."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from django.db import connection

from competitions.models import QuotaDay, Submission, TeamMembership
from competitions.services import SubmissionRefused, TeamRefused, submission_create, team_join
from tests.competitions.factories import PhaseFactory, TeamFactory
from tests.competitions.support import entrant_of, predictions, published
from tests.factories import UserFactory

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


def test_two_racing_submissions_take_one_last_slot(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    phase = PhaseFactory(daily_limit=2)
    alice, bob = UserFactory(), UserFactory()
    team = TeamFactory(competition=phase.competition, members=[alice, bob])
    submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=alice)

    results = race(
        2,
        lambda i: submission_create(
            phase=phase, team=team, upload=predictions(shift=i + 1), kind="predictions", by=[alice, bob][i]
        ),
    )
    assert sorted(type(r).__name__ for r in results) == ["Submission", "SubmissionRefused"], results
    refusal = next(r for r in results if isinstance(r, SubmissionRefused))
    assert refusal.code == "daily_limit"
    assert Submission.objects.filter(team=team).count() == 2
    assert QuotaDay.objects.get(team=team, phase=phase).used == 2
    assert len(published("competitions.submission.received.v1")) == 2
    # The refused upload left no file behind.
    assert len(list((tmp_path / "competitions" / "submissions").iterdir())) == 2


def test_four_entrants_racing_for_a_team_s_last_two_places(db):
    team = TeamFactory(size_limit=3, members=[UserFactory()])
    entrants = [entrant_of(team.competition) for _ in range(4)]
    results = race(4, lambda i: team_join(invite_code=team.invite_code, by=entrants[i]))
    assert sum(isinstance(r, TeamRefused) for r in results) == 2, results
    assert TeamMembership.objects.filter(team=team).count() == 3

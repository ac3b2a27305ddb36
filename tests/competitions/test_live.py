"""Live competition pages: the scorer's job events, applied through the services, reach the team's open
submission page and every open leaderboard over the real Redis channel layer; strangers cannot listen."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from competitions.services import submission_record_job_event
from hub.asgi import application
from tests.competitions.factories import CompetitionFactory, PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import finished, started
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

apply_event = sync_to_async(lambda event: submission_record_job_event(event=event))


def cookie_of(user) -> bytes | None:
    """A signed-in session's cookie (made before the async part: signing in writes to the database)."""
    if user is None:
        return None
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(path: str, cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


def test_the_teams_page_receives_each_new_status_and_the_leaderboard_page_the_new_score(phase):
    member = UserFactory()
    submission = SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition, members=[member]))

    cookie = cookie_of(member)

    async def scenario() -> tuple[list[dict], dict, bool]:
        status_page = socket(f"/ws/competitions/submissions/{submission.pk}/", cookie)
        board_page = socket(f"/ws/competitions/phases/{phase.pk}/leaderboard/")  # the public, not signed in
        assert (await status_page.connect())[0] and (await board_page.connect())[0]
        await apply_event(started(submission))
        await apply_event(finished(submission, public=0.75, private=0.5))
        statuses = [await status_page.receive_json_from(timeout=5) for _ in range(2)]
        board = await board_page.receive_json_from(timeout=5)
        quiet = await board_page.receive_nothing(timeout=0.3)
        await status_page.disconnect()
        await board_page.disconnect()
        return statuses, board, quiet

    statuses, board, quiet = async_to_sync(scenario)()
    assert [(m["event"], m["id"], m["status"]) for m in statuses] == [
        ("submission", submission.pk, "running"),
        ("submission", submission.pk, "scored"),
    ]
    assert statuses[1]["progress"] == 100 and "public_score" not in statuses[1]  # scores are fetched, not pushed
    assert board == {"event": "leaderboard", "phase_id": phase.pk, "split": "public"}
    assert quiet  # the private split changed too, but stays secret until the close


def test_another_user_and_an_anonymous_visitor_cannot_listen_to_a_teams_submission(phase, host):
    member, stranger = UserFactory(), UserFactory()
    submission = SubmissionFactory(phase=phase, team=TeamFactory(competition=phase.competition, members=[member]))

    async def connects(cookie: bytes | None) -> tuple[bool, int | None]:
        page = socket(f"/ws/competitions/submissions/{submission.pk}/", cookie)
        connected, code = await page.connect()
        if connected:
            await page.disconnect()
        return connected, code

    assert async_to_sync(connects)(cookie_of(stranger)) == (False, 4403)
    assert async_to_sync(connects)(None) == (False, 4401)
    assert async_to_sync(connects)(cookie_of(host))[0] is True  # the competition's hosts follow every submission
    assert async_to_sync(connects)(cookie_of(member))[0] is True


def test_a_drafts_leaderboard_cannot_be_listened_to_but_by_its_hosts(host):
    draft = CompetitionFactory(draft=True, host=host.memberships.get().organisation)
    phase = PhaseFactory(competition=draft)

    async def connects(cookie: bytes | None) -> bool:
        page = socket(f"/ws/competitions/phases/{phase.pk}/leaderboard/", cookie)
        connected, _ = await page.connect()
        if connected:
            await page.disconnect()
        return connected

    assert async_to_sync(connects)(cookie_of(UserFactory())) is False
    assert async_to_sync(connects)(None) is False
    assert async_to_sync(connects)(cookie_of(host)) is True

"""The websockets of the competition pages: one submission's status, and one phase's leaderboards.

A submission's socket is for its team's members and the competition's hosts (anyone else is closed with
4403, a visitor who is not signed in with 4401); a leaderboard's is for anyone who may read the
competition (the public once it is published). Messages only say what changed: the page fetches what
it shows through the views (competitions.live).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from competitions.live import leaderboard_group, submission_group
from competitions.models import Phase, Submission
from competitions.selectors import is_host, is_team_member


class _GroupStream(AsyncJsonWebsocketConsumer):
    """Joins one group if `allowed` says so; forwards its messages without their Channels `type`."""

    group = ""

    async def allowed(self) -> int | None:
        """None to accept, or the close code that refuses."""
        raise NotImplementedError

    async def connect(self) -> None:
        refusal = await self.allowed()
        if refusal is not None:
            await self.close(code=refusal)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _forward(self, message: dict[str, Any], event: str) -> None:
        await self.send_json({key: value for key, value in message.items() if key != "type"} | {"event": event})


class SubmissionStream(_GroupStream):
    async def allowed(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return 4401
        submission_id = int(self.scope["url_route"]["kwargs"]["submission_id"])
        if not await database_sync_to_async(_may_watch_submission)(user, submission_id):
            return 4403
        self.group = submission_group(submission_id)
        return None

    async def submission_changed(self, message: dict[str, Any]) -> None:
        await self._forward(message, "submission")


class LeaderboardStream(_GroupStream):
    async def allowed(self) -> int | None:
        phase_id = int(self.scope["url_route"]["kwargs"]["phase_id"])
        if not await database_sync_to_async(_may_read_leaderboard)(self.scope.get("user"), phase_id):
            return 4404
        self.group = leaderboard_group(phase_id)
        return None

    async def leaderboard_changed(self, message: dict[str, Any]) -> None:
        await self._forward(message, "leaderboard")


def _may_watch_submission(user: Any, submission_id: int) -> bool:
    submission = Submission.objects.select_related("team", "phase__competition").filter(pk=submission_id).first()
    if submission is None:
        return False
    competition = submission.phase.competition
    return is_team_member(user=user, team=submission.team) or is_host(user=user, competition=competition)


def _may_read_leaderboard(user: Any, phase_id: int) -> bool:
    phase = Phase.objects.select_related("competition").filter(pk=phase_id).first()
    if phase is None:
        return False
    competition = phase.competition
    return competition.is_public or (user is not None and is_host(user=user, competition=competition))

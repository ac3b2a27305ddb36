"""Live pushes to the competition pages over the Channels layer, sent once the writing transaction commits.

A push only says what changed (a submission's status and progress, or that a leaderboard moved); the page
then fetches the fragment it shows through the views, which apply the permissions and the reader's
language, so no score a reader may not see ever travels over a socket. Pushes are best effort: the rows
are the record, and a page that missed one shows the truth on its next load.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from competitions.models import Submission


def submission_group(submission_id: int) -> str:
    """The group of one submission's open pages (its team's members and the competition's hosts)."""
    return f"competitions.submission.{submission_id}"


def leaderboard_group(phase_id: int) -> str:
    """The group of the pages showing a phase's leaderboards (anyone who may read them)."""
    return f"competitions.leaderboard.{phase_id}"


def submission_changed(submission: Submission) -> None:
    """After commit, tell the submission's pages its new status and progress."""
    payload = {
        "type": "submission.changed",
        "id": submission.pk,
        "status": submission.status,
        "progress": submission.progress,
    }
    transaction.on_commit(lambda: _send(submission_group(submission.pk), payload), robust=True)


def leaderboard_changed(*, phase_id: int, split: str) -> None:
    """After commit, tell the pages of a phase's leaderboard that one of its splits changed."""
    payload = {"type": "leaderboard.changed", "phase_id": phase_id, "split": split}
    transaction.on_commit(lambda: _send(leaderboard_group(phase_id), payload), robust=True)


def _send(group: str, payload: dict[str, Any]) -> None:
    # Sent with robust=True: a lost push is logged by Django and never fails the write that committed.
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, payload)

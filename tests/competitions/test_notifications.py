"""A team hears how its submission ended: competitions publishes who to tell, the notifier tells them."""

from __future__ import annotations

import pytest

from competitions.services import submission_create, submission_record_job_event
from hub.events.models import OutboxEvent
from hub.events.registry import validate
from hub.notifications.models import EmailDelivery, Notification
from hub.notifications.services import email_preferences_set
from tests.competitions.factories import TeamFactory
from tests.competitions.support import failed, finished, predictions, published
from tests.factories import UserFactory
from tests.support import consumer


@pytest.fixture
def pair(competition, entrant):
    """A team of two; the second reads English and wants no e-mail about scores."""
    other = UserFactory(language="en")
    email_preferences_set(user=other, choices={"competitions.submission.scored": False})
    return TeamFactory(competition=competition, members=[entrant, other]), entrant, other


def test_a_scored_submission_tells_each_member_in_their_language_and_e_mails_those_who_want_it(phase, pair):
    team, entrant, other = pair
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    submission_record_job_event(event=finished(submission, public=0.8125, private=0.5))
    [event] = published("competitions.submission.scored.v1")
    validate("competitions.submission.scored.v1", event)
    assert event["recipients"] == sorted([entrant.pk, other.pk])
    assert (event["metric"], event["score"]) == ("accuracy", 0.8125)  # the public split: the private stays hidden
    consumer("notifier").apply(OutboxEvent.objects.get(type="competitions.submission.scored.v1").body)

    chinese = Notification.objects.get(user=entrant)
    assert phase.competition.title in chinese.title and "0.8125" in chinese.body
    assert chinese.url == f"/competitions/{phase.competition.slug}/submissions/{submission.pk}/"
    english = Notification.objects.get(user=other)
    assert english.url.startswith("/en/competitions/") and "is scored" in english.title
    assert list(EmailDelivery.objects.values_list("to", flat=True)) == [entrant.email]


def test_a_failed_submission_tells_the_team_why(phase, pair):
    team, entrant, other = pair
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    submission_record_job_event(event=failed(submission, platform=True))
    [event] = published("competitions.submission.failed.v1")
    validate("competitions.submission.failed.v1", event)
    assert event["platform_failure"] is True and event["reason"] == "The worker was lost."
    consumer("notifier").apply(OutboxEvent.objects.get(type="competitions.submission.failed.v1").body)
    english = Notification.objects.get(user=other)
    assert "The worker was lost." in english.body and "does not count against your limits" in english.body
    assert Notification.objects.filter(user=entrant).exists()
    assert not published("competitions.submission.scored.v1")

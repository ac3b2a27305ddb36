"""Consumers apply each event once (inbox), dead-letter what keeps failing, and replay it once fixed."""

import json
import logging
import signal

import pytest
from django.core.management import call_command
from django.db import transaction

from hub.accounts.services import membership_grant
from hub.events.consumer import Outcome, PoisonMessage, read_topic
from hub.events.deadletters import replay_dead_letters
from hub.events.kafka import producer
from hub.events.models import InboxEntry, OutboxEvent
from hub.events.topics import deadletter_topic, topic_name
from hub.notifications.models import Notification
from services.relay.relay import Relay
from tests.factories import OrganisationFactory, UserFactory
from tests.support import consumer, wait_for


def grant_memberships(count: int) -> list:
    organisation = OrganisationFactory()
    users = UserFactory.create_batch(count)
    with transaction.atomic():
        for user in users:
            membership_grant(user=user, organisation=organisation, role="entrant")
    return users


def outbox_bodies() -> list[str]:
    return list(OutboxEvent.objects.order_by("id").values_list("body", flat=True))


def dead_letters() -> list[dict]:
    return [json.loads(record.value) for record in read_topic(deadletter_topic(), idle_seconds=0.5)]


def test_a_committed_event_takes_effect_once_in_its_consumer(run_in_thread, kafka):
    users = grant_memberships(3)
    notifier = consumer("notifier")
    run_in_thread(Relay().run)
    run_in_thread(notifier.run)
    wait_for(lambda: Notification.objects.count() == 3)
    assert {n.user_id for n in Notification.objects.all()} == {u.pk for u in users}
    assert Notification.objects.filter(kind="accounts.membership.granted").count() == 3
    assert InboxEntry.objects.filter(consumer="notifier").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_event_has_no_second_effect():
    grant_memberships(1)
    notifier = consumer("notifier")
    (body,) = outbox_bodies()
    assert notifier.apply(body) is Outcome.APPLIED
    assert notifier.apply(body) is Outcome.DUPLICATE
    assert Notification.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_leaves_no_inbox_row_so_the_event_can_be_applied_later():
    user = UserFactory()
    with transaction.atomic():
        membership_grant(user=user, organisation=OrganisationFactory(), role="reviewer")
    (body,) = outbox_bodies()
    user.delete()  # the recipient is gone: the handler fails and its transaction rolls back
    with pytest.raises(LookupError):
        consumer("notifier").apply(body)
    assert not InboxEntry.objects.exists()


def test_a_consumer_killed_mid_batch_applies_every_event_exactly_once(run_in_thread, start_process, kafka):
    users = grant_memberships(5)
    relay = Relay()
    run_in_thread(relay.run)
    wait_for(lambda: not OutboxEvent.objects.filter(sent_at__isnull=True).exists())

    killed = start_process("run_service", "notifier", env={"WANZHI_FAILPOINTS": "consumer.mid_batch"})
    assert killed.wait(60) == -signal.SIGKILL
    assert Notification.objects.count() == 1  # applied one, died before committing its offset

    notifier = consumer("notifier")
    run_in_thread(notifier.run)
    wait_for(lambda: notifier.stats.applied + notifier.stats.duplicates >= 5)
    assert notifier.stats.duplicates >= 1  # the uncommitted one came again and was dropped
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted(u.pk for u in users)


def test_a_handler_that_keeps_failing_is_dead_lettered_and_replayed_once_fixed(run_in_thread, kafka, fast_retries):
    user = UserFactory()
    with transaction.atomic():
        membership_grant(user=user, organisation=OrganisationFactory(), role="entrant")
    user_id = user.pk
    user.delete()
    run_in_thread(Relay().run)
    notifier = consumer("notifier")
    run_in_thread(notifier.run)
    wait_for(lambda: notifier.stats.dead_lettered == 1)

    (letter,) = dead_letters()
    assert letter["consumer"] == "notifier"
    assert letter["attempts"] == 2
    assert letter["error"] == f"RecipientMissing: no user with id {user_id}"
    assert json.loads(letter["event"])["type"] == "accounts.membership.granted.v1"
    assert not Notification.objects.exists()

    UserFactory(pk=user_id)  # the cause is fixed
    report = replay_dead_letters(consumer_factory=consumer, only="notifier")
    assert (report.replayed, report.already_applied, report.still_failing) == (1, 0, [])
    assert Notification.objects.filter(user_id=user_id).count() == 1

    again = replay_dead_letters(consumer_factory=consumer)
    assert (again.replayed, again.already_applied) == (0, 1)
    assert Notification.objects.count() == 1


def test_replay_command_reports_what_still_fails(kafka, transactional_db, fast_retries, capsys):
    notifier = consumer("notifier")
    poison = json.dumps(
        {"specversion": "1.0", "id": "x", "source": "s", "type": "accounts.membership.granted.v1", "data": {}}
    ).encode()
    record = type("Record", (), {"value": poison, "key": b"1", "topic": "t", "partition": 0, "offset": 9})()
    notifier.dead_letter(record, ValueError("broken"), attempts=1)
    with pytest.raises(SystemExit):
        call_command("replay_dead_letters", "--consumer", "notifier")
    output = capsys.readouterr().out
    assert "replayed 0, already applied 0, still failing 1" in output
    assert "field membership_id: is required" in output


def test_a_message_that_breaks_its_schema_goes_straight_to_dead_letters(run_in_thread, kafka):
    bad = {
        "specversion": "1.0",
        "id": "bad-1",
        "source": "urn:x",
        "type": "accounts.membership.granted.v1",
        "data": {
            "membership_id": "not a number",
            "user_id": 1,
            "organisation_id": 1,
            "organisation_name": "x",
            "role": "entrant",
            "recipients": [1],
        },
    }
    producer().send(topic_name("accounts"), key=b"1", value=json.dumps(bad).encode()).get(timeout=10)
    notifier = consumer("notifier")
    run_in_thread(notifier.run)
    wait_for(lambda: notifier.stats.dead_lettered == 1)
    (letter,) = dead_letters()
    assert letter["attempts"] == 1  # retrying cannot fix a malformed event
    assert "PoisonMessage" in letter["error"] and "membership_id" in letter["error"]


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_id_is_not_a_uuid_is_poison_not_retried():
    grant_memberships(1)
    (body,) = outbox_bodies()
    bad = json.loads(body) | {"id": "not-a-uuid"}
    with pytest.raises(PoisonMessage, match="badly formed hexadecimal UUID"):
        consumer("notifier").apply(json.dumps(bad))
    assert not Notification.objects.exists()


def test_a_consumer_stops_gracefully_on_sigterm(start_process, kafka):
    notifier = start_process("run_service", "notifier")
    wait_for(lambda: "consumer started" in notifier.log.read_text())
    notifier.send_signal(signal.SIGTERM)
    assert notifier.wait(20) == 0


def test_the_request_correlation_id_reaches_the_consumer_log(client, run_in_thread, kafka, caplog):
    caplog.set_level(logging.DEBUG, logger="hub.events.consumer")
    response = client.post(
        "/accounts/signup/",
        {
            "username": "lilei",
            "email": "lilei@example.cn",
            "password1": "Xq7!long-pass",
            "password2": "Xq7!long-pass",
        },
        headers={"X-Request-ID": "req-abc123"},
    )
    assert response.status_code == 302 and response["X-Request-ID"] == "req-abc123"
    assert json.loads(outbox_bodies()[0])["correlationid"] == "req-abc123"
    run_in_thread(Relay().run)
    run_in_thread(consumer("notifier").run)
    wait_for(lambda: Notification.objects.filter(user__username="lilei").exists())
    applied = [r for r in caplog.records if r.getMessage() == "event applied"]
    assert [r.correlation_id for r in applied] == ["req-abc123"]

"""The relay moves committed outbox rows to Kafka: in order per key, at least once, across crashes."""

import json
import signal
from collections import defaultdict

import pytest
from django.db import connection, transaction
from kafka.errors import KafkaError

from hub.accounts.events import OrganisationCreated
from hub.accounts.services import membership_grant
from hub.events.consumer import read_topic
from hub.events.models import OutboxEvent
from hub.events.publish import publish
from hub.events.topics import topic_name
from hub.notifications.models import Notification
from services.relay.relay import LOCK_CLASS, Relay
from tests.factories import OrganisationFactory, UserFactory
from tests.support import consumer, wait_for


def publish_organisations(numbers, *, key_of=lambda n: n % 3):
    for n in numbers:
        with transaction.atomic():
            publish(
                OrganisationCreated(organisation_id=n, name=f"机构{n}", kind="startup", region=""),
                key=key_of(n),
            )


def shards_locked() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s", [LOCK_CLASS])
        return cursor.fetchone()[0]


def unsent() -> int:
    return OutboxEvent.objects.filter(sent_at__isnull=True).count()


def test_events_of_one_key_arrive_in_publish_order_with_two_relays(run_in_thread, kafka):
    first, second = Relay(batch_size=7), Relay(batch_size=7)
    run_in_thread(first.run)
    publish_organisations(range(1, 61))
    run_in_thread(second.run)
    publish_organisations(range(61, 121))
    wait_for(lambda: unsent() == 0)

    seen = defaultdict(list)
    for record in read_topic(topic_name("accounts")):
        seen[record.key.decode()].append(json.loads(record.value)["data"]["organisation_id"])
    assert {key: sorted(numbers) for key, numbers in seen.items()} == seen
    assert sum(len(numbers) for numbers in seen.values()) == 120
    # Two relays never own one shard: that is what keeps a key's order.
    assert not set(first.owned) & set(second.owned)
    assert sorted(first.owned + second.owned) == list(range(16))


def test_a_relay_wakes_on_commit_not_on_a_poll_interval(run_in_thread, kafka):
    relay = Relay(idle_wait=60)  # with a minute between polls, only NOTIFY can wake it in time
    run_in_thread(relay.run)
    wait_for(lambda: relay.owned)
    publish_organisations([1])
    wait_for(lambda: unsent() == 0, timeout=5)


def test_a_relay_killed_between_send_and_mark_resends_and_the_effect_happens_once(start_process, run_in_thread, kafka):
    organisation = OrganisationFactory()
    users = UserFactory.create_batch(5)
    with transaction.atomic():
        for user in users:
            membership_grant(user=user, organisation=organisation, role="entrant")
    crashed = start_process("run_service", "relay", env={"WANZHI_FAILPOINTS": "relay.after_send"})
    assert crashed.wait(60) == -signal.SIGKILL
    assert unsent() == 5  # sent to Kafka, but never marked

    start_process("run_service", "relay")
    wait_for(lambda: unsent() == 0)
    ids = [json.loads(record.value)["id"] for record in read_topic(topic_name("accounts"))]
    assert len(ids) == 10 and len(set(ids)) == 5  # each twice: at least once, not exactly once

    notifier = consumer("notifier")
    run_in_thread(notifier.run)
    wait_for(lambda: notifier.stats.applied + notifier.stats.duplicates == 10)
    assert (notifier.stats.applied, notifier.stats.duplicates) == (5, 5)
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted(u.pk for u in users)


def test_relay_stops_gracefully_on_sigterm(start_process, kafka):
    relay = start_process("run_service", "relay")
    wait_for(lambda: shards_locked() == 16)
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(15) == 0
    assert shards_locked() == 0  # its session ended, freeing the shards for another relay


@pytest.mark.django_db(transaction=True)
def test_rows_are_marked_only_after_kafka_acknowledged(kafka, settings):
    publish_organisations([1, 2])
    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:9"]  # nothing listens there
    relay = Relay(producer_overrides={"bootstrap_timeout_ms": 500, "max_block_ms": 500})
    conn = relay.connect()
    relay.claim_shards(conn)
    with pytest.raises(KafkaError):
        relay.relay_batch(conn)
    conn.close()
    assert unsent() == 2

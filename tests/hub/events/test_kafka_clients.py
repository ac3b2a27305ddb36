"""Kafka client settings that the local broker and kafka-python 3.0 need."""

import time
import uuid

from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from hub.events.kafka import new_producer
from hub.events.topics import topic_name


def test_an_idle_producer_stays_idle_after_sending_to_a_topic_made_after_it(kafka, settings):
    producer = new_producer()
    producer.send(topic_name("accounts"), b"first").get(timeout=10)
    late = f"{kafka}late-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    admin.create_topics([NewTopic(late, num_partitions=1, replication_factor=1)])
    admin.close()
    producer.send(late, b"second").get(timeout=10)

    started = time.process_time()
    time.sleep(2)
    busy = time.process_time() - started
    producer.close()
    # kafka-python 3.0.12 would otherwise refresh metadata for the late topic only, lose the leaders of
    # the others and spin its sender thread at a full core.
    assert busy < 0.5, f"the idle producer used {busy:.2f} s of CPU in 2 s"

"""The indexer end to end: events published in a transaction → relay → Kafka → indexer → searchable."""

import json
import signal

import pytest
from django.db import transaction

from hub.events.consumer import read_topic
from hub.events.kafka import producer
from hub.events.publish import publish
from hub.events.topics import deadletter_topic, topic_name
from hub.search.indexing import pending_count
from hub.search.models import SearchDocument
from hub.search.queries import search
from services.indexer.indexer import Indexer
from services.relay.relay import Relay
from tests.hub.search.documents import organisation, page, scenario, withdrawn
from tests.support import wait_for

CLOSED_PORT = "http://127.0.0.1:9"


def published(*events) -> None:
    """Each event in its own transaction, keyed by its aggregate, as the contexts publish them."""
    for event in events:
        key = getattr(event, "scenario_id", None) or getattr(event, "page_id", None) or event.organisation_id
        with transaction.atomic():
            publish(event, key=key)


def found(query: str, kind: str | None = None) -> set[str]:
    results = search(query=query, kind=kind, filters={}, sort="relevance", page=1, size=50)
    return {hit.id for hit in results.hits}


@pytest.fixture
def pipeline(run_in_thread, kafka, search_index):
    """A relay and an indexer running in threads against this test's topics and indices."""
    indexer = Indexer(poll_timeout_ms=100, catchup_every=0.5)
    run_in_thread(Relay().run)
    run_in_thread(indexer.run)
    return indexer


def test_published_events_become_searchable_and_a_withdrawal_removes_them(pipeline):
    published(
        scenario(1, title="智慧医疗影像辅助诊断"),
        page(2, version=5, title="智慧医疗产业政策"),
        organisation(3, name="合肥智慧医疗科技有限公司"),
    )
    wait_for(lambda: found("智慧医疗") == {"1", "2:zh-hans", "3"})

    published(withdrawn(1, version=2))
    wait_for(lambda: found("智慧医疗") == {"2:zh-hans", "3"})
    # The first version again (a late duplicate): the tombstone keeps it out.
    published(scenario(1, version=1, title="智慧医疗影像辅助诊断"))
    wait_for(lambda: pipeline.stats.stale >= 1)
    assert found("智慧医疗") == {"2:zh-hans", "3"}
    assert SearchDocument.objects.get(kind="scenarios", doc_id="1").deleted


def test_poison_messages_are_dead_lettered_and_the_rest_of_the_batch_is_indexed(pipeline):
    topic = topic_name("scenarios")
    bad_schema = {
        "specversion": "1.0",
        "id": "2f0a3c1e-7d55-4a59-9f1a-4bb1c3a6e001",
        "source": "urn:x",
        "type": "scenarios.scenario.withdrawn.v1",
        "data": {"scenario_id": "seven", "version": 1, "url": "/x/"},
    }
    producer().send(topic, key=b"7", value=b"not a cloudevent").get(timeout=10)
    producer().send(topic, key=b"7", value=json.dumps(bad_schema).encode()).get(timeout=10)
    published(scenario(8, title="毒消息之后的场景"))
    wait_for(lambda: found("毒消息之后") == {"8"})
    assert pipeline.stats.dead_lettered == 2
    letters = [json.loads(record.value) for record in read_topic(deadletter_topic(), idle_seconds=0.5)]
    assert [letter["consumer"] for letter in letters] == ["indexer", "indexer"]
    assert "scenario_id" in letters[1]["error"]


def test_the_indexer_keeps_writing_while_elasticsearch_is_down_and_catches_up_when_it_returns(
    run_in_thread, kafka, search_index, settings
):
    url = settings.ELASTICSEARCH_URL
    settings.ELASTICSEARCH_URL = CLOSED_PORT  # down from the start: not even the indices exist yet
    indexer = Indexer(poll_timeout_ms=100, catchup_every=0.5)
    run_in_thread(Relay().run)
    run_in_thread(indexer.run)
    published(*(scenario(n, title=f"停机期间的场景{n}") for n in range(1, 4)))
    wait_for(lambda: SearchDocument.objects.count() == 3)
    assert pending_count() == 3
    degraded = search(query="停机期间", kind=None, filters={}, sort="relevance", page=1, size=20)
    assert degraded.degraded and {hit.id for hit in degraded.hits} == {"1", "2", "3"}

    settings.ELASTICSEARCH_URL = url
    wait_for(lambda: pending_count() == 0)
    wait_for(lambda: found("停机期间") == {"1", "2", "3"})


def test_the_indexer_runs_as_a_service_and_stops_on_sigterm(start_process, run_in_thread, search_index):
    run_in_thread(Relay().run)
    indexer = start_process("run_service", "indexer", env={"SEARCH_INDEX_PREFIX": search_index})
    published(scenario(1, title="服务进程索引的场景"))
    try:
        wait_for(lambda: found("服务进程") == {"1"}, timeout=60)
    except AssertionError:
        indexer.terminate()
        output = indexer.communicate(timeout=20)[0].decode(errors="replace")
        raise AssertionError(f"never searchable; the indexer's output ends:\n{output[-3000:]}") from None
    indexer.send_signal(signal.SIGTERM)
    assert indexer.wait(20) == 0


def test_a_crash_between_write_and_push_leaves_nothing_behind(start_process, run_in_thread, search_index):
    run_in_thread(Relay().run)
    published(scenario(1, title="崩溃前写入的场景"))
    crashed = start_process(
        "run_service",
        "indexer",
        env={"SEARCH_INDEX_PREFIX": search_index, "WANZHI_FAILPOINTS": "indexer.before_push"},
    )
    assert crashed.wait(60) == -signal.SIGKILL
    assert pending_count() == 1  # in the read model, never pushed, offset never committed

    indexer = Indexer(poll_timeout_ms=100)
    run_in_thread(indexer.run)
    wait_for(lambda: found("崩溃前") == {"1"})
    wait_for(lambda: indexer.stats.stale >= 1)  # the redelivered batch changed nothing
    assert SearchDocument.objects.get(doc_id="1").version == 1

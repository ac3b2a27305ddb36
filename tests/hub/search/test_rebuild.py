"""Reindexing swaps in a fresh index without losing updates made meanwhile; reconcile finds and repairs drift."""

import random
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from hub.search.client import client
from hub.search.indexing import ensure_indices, indices_behind
from hub.search.indices import SCENARIOS
from hub.search.models import SearchDocument
from hub.search.rebuild import index_rebuild, index_reconcile
from tests.hub.search.documents import apply, scenario, withdrawn

DOCUMENTS = 300


def versions_in_index() -> dict[str, tuple[int, bool]]:
    es = client()
    es.indices.refresh(index=SCENARIOS.alias)
    hits = es.search(index=SCENARIOS.alias, size=10_000, version=True, source_includes=["deleted", "title"])
    return {hit["_id"]: (hit["_version"], hit["_source"]["deleted"]) for hit in hits["hits"]["hits"]}


def versions_in_read_model() -> dict[str, tuple[int, bool]]:
    return {
        doc_id: (version, deleted)
        for doc_id, version, deleted in SearchDocument.objects.filter(kind="scenarios").values_list(
            "doc_id", "version", "deleted"
        )
    }


@pytest.mark.django_db(transaction=True)
def test_a_reindex_under_concurrent_updates_loses_no_update(search_index):
    ensure_indices()
    apply(*(scenario(n, title=f"场景{n}第1版") for n in range(1, DOCUMENTS + 1)))
    (old_index,) = indices_behind(SCENARIOS.alias)
    versions = dict.fromkeys(range(1, DOCUMENTS + 1), 1)
    lock = threading.Lock()

    def update(n: int) -> None:
        """What the indexer does for one event: a new version in the read model, then a push via the alias."""
        with lock:
            versions[n] += 1
            version = versions[n]
        apply(scenario(n, version=version, updated=True, title=f"场景{n}第{version}版"))

    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_updating() -> None:
        rng = random.Random(7)
        try:
            while not stop.is_set():
                update(rng.randint(1, DOCUMENTS))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def during_the_gap() -> None:
        # Filled, not yet swapped: these land in the old index only, the fill has not seen them.
        for n in range(1, 21):
            update(n)
        apply(withdrawn(21, version=versions[21] + 10))

    updater = threading.Thread(target=keep_updating)
    updater.start()
    try:
        report = index_rebuild(kind="scenarios", on_filled=during_the_gap)
    finally:
        stop.set()
        updater.join(30)
    assert not errors
    # Every document in the new index holds exactly the read model's last version (the withdrawal included).
    assert versions_in_index() == versions_in_read_model()
    assert versions_in_index()["21"][1] is True
    assert report.loaded == DOCUMENTS and report.repushed >= 21 and report.removed == [old_index]
    assert indices_behind(SCENARIOS.alias) == [report.index]
    assert not client().indices.exists(index=old_index)
    assert index_reconcile(kind="scenarios").clean


@pytest.fixture
def drifted(indices):
    """Five scenarios, then drift of every sort between the index and the read model."""
    apply(*(scenario(n) for n in range(1, 6)))
    es = client()
    es.delete(index=SCENARIOS.alias, id="2", refresh=True)  # lost from the index
    apply(scenario(3, version=2, updated=True, title="新标题"), push=False)  # not pushed yet: stale there
    apply(withdrawn(4, version=2), push=False)  # withdrawn, but still live in the index
    es.index(  # never in the read model
        index=SCENARIOS.alias, id="99", document=SCENARIOS.document(title="幽灵"), refresh=True
    )


def test_reconcile_reports_missing_stale_and_orphaned_documents_and_repairs_them(drifted):
    report = index_reconcile(kind="scenarios")
    assert (report.missing, report.stale, sorted(report.orphaned)) == (["2"], ["3"], ["4", "99"])
    assert report.stored == 4 and report.indexed == 5

    repaired = index_reconcile(kind="scenarios", repair=True)
    assert repaired.repaired == 4
    assert index_reconcile(kind="scenarios").clean
    in_index = versions_in_index()
    assert in_index["2"] == (1, False) and in_index["3"] == (2, False) and in_index["4"] == (2, True)
    assert "99" not in in_index


def test_the_reconcile_command_fails_on_drift_and_repairs_with_repair(drifted, capsys):
    with pytest.raises(CommandError):
        call_command("search_reconcile", kind="scenarios")
    assert "1 missing, 1 stale, 2 orphaned" in capsys.readouterr().out
    call_command("search_reconcile", kind="scenarios", repair=True)
    call_command("search_reconcile")  # every kind, nothing left to report: no error
    assert "0 missing, 0 stale, 0 orphaned" in capsys.readouterr().out


def test_the_reindex_command_rebuilds_each_kind(indices, capsys):
    apply(*(scenario(n) for n in range(1, 4)))
    call_command("search_reindex", kind="scenarios")
    assert "scenarios: 3 documents into" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("search_reindex", kind="nonsense")

"""The read model is the version authority: late, repeated and reordered events change nothing they should not;
Elasticsearch follows it, and catches up after an outage."""

import pytest
from django.db import transaction

from hub.search.client import client
from hub.search.indexing import documents_push_pending, ensure_indices, indices_behind, pending_count
from hub.search.indices import SCENARIOS
from hub.search.models import SearchDocument
from hub.search.queries import search
from hub.search.services import DocumentChange, documents_apply
from tests.hub.search.documents import apply, page, page_unpublished, scenario, withdrawn

pytestmark = pytest.mark.django_db


def found(query="", **kwargs):
    results = search(query=query, kind=kwargs.pop("kind", None), filters={}, sort="relevance", page=1, size=50)
    return {hit.id: hit for hit in results.hits}


def test_a_withdrawn_scenario_disappears_from_results_and_autocomplete(indices):
    apply(scenario(1, title="智慧农业病虫害识别"))
    assert "1" in found("智慧农业")
    apply(withdrawn(1, version=2))
    assert found("智慧农业") == {}
    row = SearchDocument.objects.get(kind="scenarios", doc_id="1")
    assert row.deleted and row.version == 2 and not row.pending


def test_an_older_event_after_a_newer_one_changes_nothing(indices):
    apply(scenario(1, version=3, title="第三版标题"))
    assert apply(scenario(1, version=2, title="第二版标题", updated=True)) == []
    assert found("第二版") == {} and "1" in found("第三版")
    assert SearchDocument.objects.get(doc_id="1").source["title"] == "第三版标题"


def test_an_older_event_cannot_resurrect_a_withdrawn_item(indices):
    apply(scenario(1, version=1, title="旧内容不可复活"))
    apply(withdrawn(1, version=2))
    assert apply(scenario(1, version=1, title="旧内容不可复活")) == []  # redelivered after the withdrawal
    assert found("旧内容") == {}
    assert SearchDocument.objects.get(doc_id="1").deleted


def test_a_redelivered_event_changes_nothing(indices):
    event = scenario(1, version=1)
    apply(event)
    before = SearchDocument.objects.get(doc_id="1")
    assert apply(event) == []
    after = SearchDocument.objects.get(doc_id="1")
    assert (after.version, after.change_seq, after.updated_at) == (before.version, before.change_seq, before.updated_at)


def test_a_batch_with_several_versions_of_one_document_keeps_the_highest(indices):
    apply(scenario(1, version=1, title="一"), scenario(1, version=3, title="三", updated=True), withdrawn(2, version=5))
    assert SearchDocument.objects.get(doc_id="1").source["title"] == "三"
    assert SearchDocument.objects.get(doc_id="2").deleted  # a tombstone even for a document never seen


def test_elasticsearch_itself_refuses_an_older_version(indices):
    """External versions: even a push that bypasses the read model's gate cannot go back in time."""
    (newer,) = apply(scenario(1, version=5, title="新版本"))
    es = client()
    response = es.options(ignore_status=409).index(
        index=SCENARIOS.alias, id="1", document={**newer.source, "title": "旧版本"}, version=4, version_type="external"
    )
    assert response.meta.status == 409
    assert es.get(index=SCENARIOS.alias, id="1")["_source"]["title"] == "新版本"


def test_pages_are_one_document_per_page_and_locale(indices):
    apply(
        page(7, version=10, title="通用人工智能政策", locale="zh-hans"),
        page(8, version=11, title="AI policy", locale="en", summary="Support for AI.", body_text="Article 1"),
    )
    assert set(found("人工智能", kind="pages")) == {"7:zh-hans"}
    apply(page_unpublished(7, version=12))
    assert found("人工智能", kind="pages") == {}
    assert set(found("policy", kind="pages")) == {"8:en"}


def test_with_elasticsearch_down_documents_stay_pending_and_are_pushed_once_it_is_back(indices, settings):
    url = settings.ELASTICSEARCH_URL
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"  # nothing listens there
    with transaction.atomic():
        apply(scenario(1, title="停机期间发布的场景"), scenario(2))  # the read model takes them regardless
    assert pending_count() == 2
    assert documents_push_pending().pushed == 0
    settings.ELASTICSEARCH_URL = url
    assert documents_push_pending().pushed == 2
    assert pending_count() == 0
    client().indices.refresh(index=SCENARIOS.alias)
    assert "1" in found("停机期间")


def test_a_document_elasticsearch_refuses_is_left_pending_without_holding_back_the_rest(indices):
    with transaction.atomic():
        written = documents_apply(
            changes=[
                DocumentChange("scenarios", "1", 1, SCENARIOS.document(title="正常的场景")),
                DocumentChange("scenarios", "2", 1, {**SCENARIOS.document(title="坏的"), "budget": "not a number"}),
            ]
        )
    assert len(written) == 2
    result = documents_push_pending()
    assert (result.pushed, result.failed) == (1, 1)
    assert list(SearchDocument.objects.filter(indexed_version__isnull=True).values_list("doc_id", flat=True)) == ["2"]


def test_ensure_indices_is_idempotent_and_refills_a_lost_index(indices):
    apply(scenario(1))
    assert ensure_indices() == []
    (name,) = indices_behind(SCENARIOS.alias)
    client().indices.delete(index=name)  # the cluster lost it
    assert ensure_indices() == [SCENARIOS.alias]
    assert pending_count(kind="scenarios") == 1  # the new, empty index gets every document again
    assert documents_push_pending().pushed == 1

"""Queries against the real search server: Chinese and English, ranking, facets, highlights, suggestions."""

import datetime

import pytest
from django.utils import timezone

from hub.search.queries import MAX_QUERY_LENGTH, InvalidSearch, search, suggest
from hub.search.selectors import recent_documents
from tests.hub.search.documents import apply, organisation, page, scenario

pytestmark = pytest.mark.django_db


def run(query="", *, kind=None, filters=None, sort="relevance", page=1, size=20):
    return search(query=query, kind=kind, filters=filters or {}, sort=sort, page=page, size=size)


def ids(results):
    return [hit.id for hit in results.hits]


@pytest.fixture
def catalogue(indices):
    """Scenarios, a policy and an organisation, in Chinese with English translations."""
    passed = (timezone.localdate() - datetime.timedelta(days=3)).isoformat()
    apply(
        scenario(
            1,
            title="智慧医疗影像辅助诊断",
            title_en="AI-assisted medical imaging diagnosis",
            description="为三甲医院提供CT影像的智能辅助诊断。",
            description_en="Assisted diagnosis of CT images for hospitals.",
            sector="healthcare",
            city="合肥",
            status="open",
            budget_min=None,
            budget_max=800_000,
        ),
        scenario(
            2,
            title="制造业质检平台",
            title_en="Quality inspection platform",
            description="结合工业互联网与智慧医疗设备生产线的质量检测。",
            description_en="Quality inspection on industrial internet lines making smart healthcare devices.",
            sector="industrial-internet",
            city="芜湖",
            status="matching",
            budget_min=1_000_000,
            budget_max=3_000_000,
        ),
        scenario(
            3,
            title="工业互联网标识解析应用",
            title_en="Industrial internet identifier resolution",
            description="在汽车零部件企业推广工业互联网标识解析。",
            description_en="Identifier resolution for auto parts makers.",
            sector="industrial-internet",
            city="合肥",
            status="open",
            budget_min=50_000,
            budget_max=None,
        ),
        scenario(
            4,
            title="政务服务智能问答",
            title_en="Government services chatbot",
            description="12345热线的智能问答与工单分派。",
            description_en="Question answering for the 12345 hotline.",
            sector="government-services",
            city="蚌埠",
            status="closed",
            budget_min=None,
            budget_max=None,
            deadline=passed,
        ),
        page(101, title="关于推动智慧医疗发展的通知", summary="加快智慧医疗应用场景建设。", topic="卫生健康"),
        organisation(201, name="合肥智慧医疗科技有限公司"),
    )


def test_a_chinese_query_finds_the_documents_that_contain_it_title_matches_first(catalogue):
    results = run("智慧医疗")
    assert set(ids(results)) >= {"1", "2", "101:zh-hans", "201"}
    assert "4" not in ids(results)
    # The three with 智慧医疗 in the title come before the scenario that has it only in its description.
    assert ids(results).index("2") == 3
    assert results.counts == {"scenarios": 2, "pages": 1, "organisations": 1, "competitions": 0, "calls": 0}


def test_industrial_internet_ranks_the_title_match_first(catalogue):
    results = run("工业互联网", kind="scenarios")
    assert ids(results)[:2] == ["3", "2"]
    assert "<mark>" in results.hits[0].title_html


def test_an_english_query_works_on_the_same_index_and_tolerates_typos(catalogue):
    assert ids(run("identifier resolution"))[0] == "3"
    assert ids(run("indentifier resolutoin"))[0] == "3"  # two typos
    assert "1" in ids(run("medical imaging"))


def test_highlights_escape_the_text_and_mark_only_the_match(indices):
    apply(scenario(7, title="<script>alert(1)</script> 智慧医疗", description="智慧医疗 & <b>粗体</b>"))
    (hit,) = run("智慧医疗").hits
    assert "<script>" not in hit.title_html and "&lt;script&gt;" in hit.title_html
    assert "<mark>" in hit.title_html and "<b>" not in hit.snippet_html and "&amp;" in hit.snippet_html


def test_facets_count_the_matches_and_filters_narrow_them(catalogue):
    results = run(kind="scenarios")
    facets = {facet.name: {b.value: b.count for b in facet.buckets} for facet in results.facets}
    assert facets["sector"] == {"industrial-internet": 2, "healthcare": 1, "government-services": 1}
    assert facets["city"] == {"合肥": 2, "芜湖": 1, "蚌埠": 1}
    assert facets["status"] == {"open": 2, "matching": 1, "closed": 1}
    # budget counts the upper bound, or the lower one where that is all there is
    assert facets["budget"] == {"lt-100k": 1, "100k-1m": 1, "1m-10m": 1, "10m-plus": 0}
    assert facets["deadline"]["30d"] == 3 and facets["deadline"]["7d"] == 0 and facets["deadline"]["passed"] == 1

    narrowed = run(kind="scenarios", filters={"city": ["合肥"], "status": ["open"]})
    assert sorted(ids(narrowed)) == ["1", "3"]
    facets = {facet.name: {b.value: b.count for b in facet.buckets} for facet in narrowed.facets}
    # A facet counts under every choice but its own: open scenarios per city, and 合肥's per status.
    assert facets["city"] == {"合肥": 2}
    assert facets["status"] == {"open": 2}
    assert narrowed.counts["scenarios"] == 2
    selected = {b.value for facet in narrowed.facets for b in facet.buckets if b.selected}
    assert selected == {"合肥", "open"}


def test_tab_counts_ignore_the_tab_and_filters_apply_to_their_kind(catalogue):
    results = run("智慧医疗", kind="pages")
    assert ids(results) == ["101:zh-hans"]
    assert results.counts == {"scenarios": 2, "pages": 1, "organisations": 1, "competitions": 0, "calls": 0}
    assert {f.name for f in results.facets} == {"page_kind", "topic", "issuing_body", "validity", "date"}


def test_an_empty_query_browses_everything_newest_first(catalogue):
    results = run("")
    assert results.browse and results.total == 6
    dates = [hit.date for hit in results.hits]
    assert dates == sorted(dates, reverse=True)


def test_pages_of_results_and_their_depth_limit(catalogue):
    first, second = run(size=4), run(size=4, page=2)
    assert first.pages == 2 and len(first.hits) == 4 and len(second.hits) == 2
    assert not set(ids(first)) & set(ids(second))
    with pytest.raises(InvalidSearch) as error:
        run(page=501, size=20)
    assert error.value.field == "page"


@pytest.mark.parametrize("query", ['"(*:[', "title:智慧 AND", "\\", "/[a-z]+/", "智慧医疗~~~^5", "*", "{{}}", "OR"])
def test_query_syntax_characters_never_fail(catalogue, query):
    run(query)  # an answer, whatever it holds, and never an error from the server


def test_a_very_long_query_is_cut_with_a_notice(catalogue):
    results = run("智慧医疗" + "x" * 10_000)
    assert len(results.query) == MAX_QUERY_LENGTH and results.notices
    assert not results.degraded


def test_control_characters_are_dropped_from_the_query(catalogue):
    assert run("智慧\x00医疗\x1b").query == "智慧 医疗"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "nonsense"}, "kind"),
        ({"filters": {"sector": ["no-such-sector"]}}, "sector"),
        ({"filters": {"colour": ["red"]}}, "colour"),
        ({"filters": {"topic": ["科技"]}, "kind": "scenarios"}, "topic"),
        ({"sort": "random"}, "sort"),
        ({"page": 0}, "page"),
        ({"size": 500}, "size"),
    ],
)
def test_unusable_parameters_are_refused_naming_the_field(indices, kwargs, field):
    with pytest.raises(InvalidSearch) as error:
        run(**kwargs)
    assert error.value.field == field


def test_few_hits_offer_a_did_you_mean(catalogue):
    results = run("goverment servises")
    assert results.did_you_mean == "government services"


def test_autocomplete_completes_chinese_and_english_titles(catalogue):
    completions = {(s.text, s.kind, s.url) for s in suggest(prefix="智慧医")}
    assert completions == {("智慧医疗影像辅助诊断", "scenarios", "/scenarios/1/")}
    assert [s.text for s in suggest(prefix="Industrial int")] == ["Industrial internet identifier resolution"]
    assert [s.text for s in suggest(prefix="合肥智慧", kind="organisations")] == ["合肥智慧医疗科技有限公司"]
    assert suggest(prefix="   ") == []


def test_recent_documents_reads_the_read_model_newest_first(catalogue):
    newest = recent_documents(kind="scenarios", filters={"status": "open"}, limit=4)
    assert [doc["doc_id"] for doc in newest] == ["1", "3"]
    assert newest[0]["title"] == "智慧医疗影像辅助诊断"

"""The results page, the autocomplete endpoint and the search API: every input answers 200 or a clear 400."""

import pytest
from django.urls import reverse

from tests.hub.search.documents import apply, organisation, page, scenario

pytestmark = pytest.mark.django_db
CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens there: Elasticsearch "down"


@pytest.fixture
def catalogue(indices):
    apply(
        scenario(1, title="智慧医疗影像辅助诊断", title_en="AI medical imaging", sector="healthcare", city="合肥"),
        scenario(
            2,
            title="工业互联网质检",
            title_en="Industrial internet inspection",
            sector="industrial-internet",
            city="芜湖",
        ),
        page(3, title="智慧医疗产业政策", topic="卫生健康"),
        organisation(4, name="合肥智慧医疗科技有限公司"),
    )


def get(client, path, **params):
    return client.get(path, params, HTTP_ACCEPT_LANGUAGE="en")


def results_page(client, **params):
    response = get(client, reverse("search:results"), **params)
    assert response.status_code == 200
    return response.content.decode()


def api(client, **params):
    return get(client, "/api/v1/search/", **params)


def test_the_results_page_shows_tabs_facets_and_highlighted_hits(client, catalogue):
    html = results_page(client, q="智慧医疗")
    assert '<label for="search-q">' in html and 'role="search"' in html
    assert '<a href="?q=%E6%99%BA%E6%85%A7%E5%8C%BB%E7%96%97" aria-current="page">All' in html
    assert html.count("<article>") == 3
    assert "<mark>智慧医疗</mark>影像辅助诊断" in html
    assert 'form="search-form" id="f-sector-1" name="sector"' in html and 'value="healthcare"' in html
    assert "search/suggest.js" in html


def test_a_tab_and_a_facet_narrow_the_results(client, catalogue):
    html = results_page(client, kind="scenarios", city="合肥")
    assert html.count("<article>") == 1 and "智慧医疗影像辅助诊断" in html
    assert 'aria-current="page">Scenarios' in html
    assert 'value="合肥" checked' in html


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"kind": "nonsense"}, "There is no category"),
        ({"sector": "no-such-sector"}, "A filter on"),
        ({"kind": "pages", "sector": "healthcare"}, "A filter on"),
        ({"sort": "random"}, "cannot be sorted"),
        ({"page": "-1"}, "page number was not understood"),
        ({"page": "abc"}, "page number was not understood"),
        ({"page": "99999"}, "Only the first 10,000 results"),
        ({"page": "7"}, "There are fewer pages than that"),
        ({"q": "智慧" * 5000}, "longer than 200 characters"),
    ],
)
def test_the_page_ignores_what_it_cannot_use_and_says_so(client, catalogue, params, notice):
    html = results_page(client, **params)
    assert 'class="search-notices" role="status"' in html and notice in html


@pytest.mark.parametrize("query", ['"(*:[', "", "   ", "\x00\x1b", "<script>alert(1)</script>"])
def test_odd_queries_answer_200(client, catalogue, query):
    html = results_page(client, q=query)
    assert "<script>alert" not in html


def test_an_empty_result_explains_what_to_try(client, catalogue):
    html = results_page(client, q="量子计算", kind="scenarios", city="合肥")
    assert "Nothing matches your search." in html and "Search again without the filters" in html


def test_few_hits_link_a_did_you_mean(client, catalogue):
    html = results_page(client, q="industrail internet")
    assert "Did you mean:" in html and "industrial internet</a>" in html


def test_with_elasticsearch_down_the_page_answers_from_the_database(client, catalogue, settings):
    settings.ELASTICSEARCH_URL = CLOSED_PORT
    html = results_page(client, q="智慧医疗", kind="scenarios")
    assert "Search is running in a reduced mode." in html
    assert "智慧医疗影像辅助诊断" in html and "<mark>" not in html
    assert html.count("<article>") == 1


def test_suggest_answers_json_for_the_combobox(client, catalogue, settings):
    response = get(client, reverse("search:suggest"), q="工业")
    assert response.status_code == 200
    assert response.json()["suggestions"] == [
        {"text": "工业互联网质检", "kind": "scenarios", "kind_label": "Scenarios", "url": "/scenarios/2/"}
    ]
    assert get(client, reverse("search:suggest"), q="工业", kind="bogus").status_code == 400
    assert get(client, reverse("search:suggest"), q="").json() == {"suggestions": []}
    settings.ELASTICSEARCH_URL = CLOSED_PORT
    assert [s["text"] for s in get(client, reverse("search:suggest"), q="工业").json()["suggestions"]] == [
        "工业互联网质检"
    ]


def test_the_api_answers_results_counts_and_facets(client, catalogue):
    response = api(client, q="智慧医疗", size=2)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3 and len(body["results"]) == 2 and body["pages"] == 2
    assert body["counts"] == {"scenarios": 1, "pages": 1, "organisations": 1, "competitions": 0, "calls": 0}
    assert body["degraded"] is False and body["notices"] == []
    sector = next(facet for facet in body["facets"] if facet["name"] == "sector")
    assert sector["buckets"] == [{"value": "healthcare", "label": "Healthcare", "count": 1, "selected": False}]
    assert "<mark>" in body["results"][0]["title_html"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "nonsense"}, "kind"),
        ({"sector": "no-such-sector"}, "sector"),
        ({"kind": "pages", "sector": "healthcare"}, "sector"),
        ({"sort": "random"}, "sort"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "99999"}, "page"),
        ({"size": "0"}, "size"),
        ({"size": "many"}, "size"),
    ],
)
def test_the_api_refuses_unusable_parameters_with_400_naming_the_field(client, catalogue, params, field):
    response = api(client, **params)
    assert response.status_code == 400
    assert response.json()["field"] == field and response.json()["detail"]


@pytest.mark.parametrize("query", ["", '"(*:[', "智慧" * 5000])
def test_the_api_answers_odd_queries_with_200(client, catalogue, query):
    response = api(client, q=query)
    assert response.status_code == 200
    assert len(response.json()["query"]) <= 200


def test_with_elasticsearch_down_the_api_answers_degraded(client, catalogue, settings):
    settings.ELASTICSEARCH_URL = CLOSED_PORT
    response = api(client, q="智慧医疗")
    assert response.status_code == 200
    body = response.json()
    assert body["degraded"] is True and body["total"] == 3
    assert body["counts"] == {"scenarios": 1, "pages": 1, "organisations": 1, "competitions": 0, "calls": 0}


def test_the_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/search/" in schema and '"operationId":"search"' in schema.replace(" ", "")

"""Pages take their language from the path; the API from Accept-Language."""

import pytest

from hub.i18n import path_for_reader

pytestmark = pytest.mark.django_db


def facet_labels(response) -> set[str]:
    return {facet["label"] for facet in response.json()["facets"]}


def test_the_api_speaks_the_language_its_client_asks_for(client, search_index):
    chinese = client.get("/api/v1/search/", {"kind": "scenarios"})
    english = client.get("/api/v1/search/", {"kind": "scenarios"}, HTTP_ACCEPT_LANGUAGE="en")
    assert chinese.status_code == english.status_code == 200
    assert chinese["Content-Language"] == "zh-hans" and english["Content-Language"] == "en"
    assert "Sector" in facet_labels(english) and "领域" in facet_labels(chinese)
    assert "Accept-Language" in english["Vary"]


def test_pages_ignore_accept_language(client):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans"' in html


def test_a_default_language_path_goes_under_the_readers_prefix():
    from django.utils import translation

    with translation.override("en"):
        assert path_for_reader("/scenarios/5/") == "/en/scenarios/5/"
    with translation.override("zh-hans"):
        assert path_for_reader("/scenarios/5/") == "/scenarios/5/"

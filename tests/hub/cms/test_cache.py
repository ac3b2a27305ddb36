"""The anonymous page cache: hits for readers, misses after every publish, never for signed-in users."""

import pytest

from tests.factories import UserFactory
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db


def cache_state(response) -> str | None:
    return response.headers.get("X-Page-Cache")


def test_a_reader_gets_the_cached_page_until_the_next_publish(client, django_capture_on_commit_callbacks):
    home = pages.home()
    doc = pages.policy_document(pages.policy_library(home), title="旧标题")
    first, second = client.get(doc.url), client.get(doc.url)
    assert (cache_state(first), cache_state(second)) == ("miss", "hit")
    assert second.content == first.content

    with django_capture_on_commit_callbacks(execute=True):
        doc.title = "新标题"
        doc.save_revision().publish()
    fresh = client.get(doc.url)
    assert cache_state(fresh) == "miss" and "新标题" in fresh.content.decode()


def test_unpublishing_empties_the_cache_too(client, django_capture_on_commit_callbacks):
    doc = pages.policy_document(pages.policy_library(pages.home()))
    client.get(doc.url)
    with django_capture_on_commit_callbacks(execute=True):
        doc.unpublish()
    assert client.get(doc.url).status_code == 404


def test_each_language_and_display_choice_has_its_own_entry(client):
    home = pages.home()
    client.get("/", headers={"Accept-Language": "zh-hans"})
    english = client.get("/", headers={"Accept-Language": "en"})
    assert cache_state(english) == "miss" and 'lang="en"' in english.content.decode()
    assert cache_state(client.get("/", headers={"Accept-Language": "en"})) == "hit"
    assert home.live


def test_signed_in_users_and_sessions_are_never_served_from_the_cache(client):
    pages.home()
    client.get("/")
    client.force_login(UserFactory())
    signed_in = client.get("/")
    assert cache_state(signed_in) is None


def test_a_page_with_a_query_string_is_cached_per_query(client):
    library = pages.policy_library(pages.home())
    pages.policy_document(library, topic="工业")
    assert cache_state(client.get(library.url, {"topic": "工业"})) == "miss"
    assert cache_state(client.get(library.url, {"topic": "教育"})) == "miss"
    assert cache_state(client.get(library.url, {"topic": "工业"})) == "hit"

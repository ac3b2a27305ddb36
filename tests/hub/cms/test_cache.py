"""The anonymous page cache: hits served before Django, a miss after every publish, never for signed-in users."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.db import connection

from hub.asgi import application
from hub.search.indices import COMPETITIONS, ORGANISATIONS
from hub.search.services import DocumentChange, documents_apply
from tests.factories import UserFactory
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db(transaction=True)  # the ASGI app serves from its own thread


@pytest.fixture(autouse=True)
def _end_request_thread_sessions():
    """Django's ASGI handler keeps a database session open in its request thread; end it after each test."""
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, str | None, str]:
    """GET through the real ASGI application (page-cache layer, then Django); (status, cache state, body)."""
    raw = [(b"host", b"localhost")] + [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    path, _, query = path.partition("?")

    async def request() -> dict:
        communicator = HttpCommunicator(application, "GET", path, headers=raw)
        communicator.scope["query_string"] = query.encode()
        return await communicator.get_response(timeout=10)

    response = async_to_sync(request)()
    state = {name.lower(): value for name, value in response["headers"]}.get(b"x-page-cache")
    return response["status"], state.decode() if state else None, response["body"].decode()


def test_a_reader_gets_the_cached_page_until_the_next_publish(django_capture_on_commit_callbacks):
    doc = pages.policy_document(pages.policy_library(pages.home()), title="旧标题")
    first, second = get(doc.url), get(doc.url)
    assert (first[1], second[1]) == ("miss", "hit")
    assert second[2] == first[2] and "旧标题" in second[2]

    with django_capture_on_commit_callbacks(execute=True):
        doc.title = "新标题"
        doc.save_revision().publish()
    _status, state, body = get(doc.url)
    assert state == "miss" and "新标题" in body


def test_a_hit_keeps_the_security_headers_but_no_cookies():
    doc = pages.policy_document(pages.policy_library(pages.home()))
    get(doc.url)

    async def raw_hit() -> dict:
        return await HttpCommunicator(application, "GET", doc.url, headers=[(b"host", b"localhost")]).get_response()

    headers = {name.lower(): value for name, value in async_to_sync(raw_hit)()["headers"]}
    assert headers[b"x-frame-options"] == b"DENY" and headers[b"x-content-type-options"] == b"nosniff"
    assert b"set-cookie" not in headers and headers[b"x-page-cache"] == b"hit"


def test_unpublishing_empties_the_cache_too(django_capture_on_commit_callbacks):
    doc = pages.policy_document(pages.policy_library(pages.home()))
    get(doc.url)
    with django_capture_on_commit_callbacks(execute=True):
        doc.unpublish()
    assert get(doc.url)[0] == 404


def test_each_language_has_its_own_entry():
    pages.translate(pages.home(), title="Wanzhi")
    get("/")
    _status, state, body = get("/en/")
    assert state == "miss" and 'lang="en"' in body and "<title>Wanzhi" in body
    assert get("/en/")[1] == "hit"
    assert get("/", {"accept-language": "en"})[1] == "hit"  # the path says the language, not the header
    assert 'lang="zh-hans"' in get("/", {"accept-language": "en"})[2]


def test_each_display_choice_has_its_own_entry():
    pages.home()
    get("/")
    assert get("/", {"cookie": "wanzhi_display=scheme:yellow-on-blue"})[1] == "miss"
    assert get("/", {"cookie": "wanzhi_display=scheme:yellow-on-blue"})[1] == "hit"
    assert get("/", {"cookie": "wanzhi_display=scheme:nonsense"})[1] == "hit"  # an invalid choice is the default


def test_signed_in_readers_are_never_served_from_the_cache(client):
    pages.home()
    get("/")
    client.force_login(UserFactory())
    session = f"sessionid={client.cookies['sessionid'].value}"
    assert get("/", {"cookie": session})[1] is None


def test_a_page_with_a_query_string_is_cached_per_query():
    library = pages.policy_library(pages.home())
    pages.policy_document(library, topic="工业")
    assert get(f"{library.url}?topic=工业")[1] == "miss"
    assert get(f"{library.url}?topic=教育")[1] == "miss"
    assert get(f"{library.url}?topic=工业")[1] == "hit"


def test_a_new_item_of_another_context_empties_the_cached_home_page(django_capture_on_commit_callbacks):
    home = pages.home()
    assert [get(home.url)[1], get(home.url)[1]] == ["miss", "hit"]
    source = COMPETITIONS.document(
        title="新比赛", url="/competitions/new/", date="2026-11-27", competition_status="running"
    )
    with django_capture_on_commit_callbacks(execute=True):
        documents_apply(changes=[DocumentChange(COMPETITIONS.name, "1", 1, source)])
    _status, state, body = get(home.url)
    assert state == "miss" and "新比赛" in body
    with django_capture_on_commit_callbacks(execute=True):  # organisations are not on the home page
        documents_apply(changes=[DocumentChange(ORGANISATIONS.name, "9", 1, ORGANISATIONS.document(title="某公司"))])
    assert get(home.url)[1] == "hit"

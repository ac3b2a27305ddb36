"""The home page shows what other contexts have open, from the search read model their events feed."""

import datetime

import pytest
from django.utils import timezone

from hub.search.indices import CALLS, SCENARIOS
from hub.search.services import DocumentChange, documents_apply
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db


def scenario(doc_id: str, *, status: str = "open", version: int = 1, **fields: str) -> DocumentChange:
    source = SCENARIOS.document(
        title=fields.get("title", f"场景{doc_id}"),
        title_en=fields.get("title_en", ""),
        url=f"/scenarios/{doc_id}/",
        date=fields.get("date", "2026-11-01"),
        status=status,
        deadline="2027-01-31",
        city="合肥市",
    )
    return DocumentChange(SCENARIOS.name, doc_id, version, source)


def test_open_scenario_calls_are_highlighted_newest_first_in_the_readers_language(client):
    pages.translate(pages.home(), title="Wanzhi")
    documents_apply(
        changes=[
            scenario("1", title="智慧医疗影像辅助诊断", title_en="AI-assisted medical imaging", date="2026-11-20"),
            scenario("2", title="工业互联网预测性维护", date="2026-11-10"),
            scenario("3", title="已结束的场景", status="closed", date="2026-11-25"),
        ]
    )
    html = client.get("/").content.decode()
    assert html.index("智慧医疗影像辅助诊断") < html.index("工业互联网预测性维护")
    assert "已结束的场景" not in html  # only open calls
    assert '<a href="/scenarios/1/">智慧医疗影像辅助诊断</a>' in html

    english = client.get("/en/").content.decode()
    assert '<a href="/en/scenarios/1/">AI-assisted medical imaging</a>' in english
    assert '<a href="/en/scenarios/2/">工业互联网预测性维护</a>' in english  # no English title: the Chinese one


def test_a_withdrawn_scenario_leaves_the_home_page(client):
    pages.home()
    documents_apply(changes=[scenario("1", title="撤回的场景")])
    documents_apply(changes=[DocumentChange(SCENARIOS.name, "1", 2, None)])
    html = client.get("/").content.decode()
    assert "撤回的场景" not in html
    assert "暂无开放的场景征集。" in html  # the empty state, in the page's language


def call(doc_id: str, *, closes_at: str, **fields: str) -> DocumentChange:
    source = CALLS.document(
        title=fields.get("title", f"申报批次{doc_id}"),
        url=f"/funds/calls/{doc_id}/",
        date="2026-11-01T09:00:00+08:00",
        fund_kind="angel",
        organisation_name="安徽通用人工智能产业基金",
        opens_at="2026-11-01T09:00:00+08:00",
        closes_at=closes_at,
    )
    return DocumentChange(CALLS.name, doc_id, 1, source)


def test_open_fund_calls_are_shown_until_they_close(client):
    pages.home()
    ahead = (timezone.now() + datetime.timedelta(days=10)).isoformat()
    # Closed an hour ago, written with another offset: compared as a time, not as text.
    passed = (timezone.now() - datetime.timedelta(hours=1)).astimezone(datetime.UTC).isoformat()
    documents_apply(
        changes=[call("1", title="天使基金第一批", closes_at=ahead), call("2", title="已截止批次", closes_at=passed)]
    )
    html = client.get("/").content.decode()
    assert '<a href="/funds/calls/1/">天使基金第一批</a>' in html
    assert "已截止批次" not in html and "安徽通用人工智能产业基金" in html

"""The manager dashboard: stage counts, ageing, score mean and spread with outliers flagged, budget,
filters and pages in a constant number of queries, and the CSV and XLSX exports of its queue."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from funds import selectors
from funds.models import Application, ApplicationEvent, Review, ReviewAssignment
from funds.selectors import DashboardFilters
from tests.factories import UserFactory
from tests.funds.factories import ApplicationFactory

pytestmark = pytest.mark.django_db

S = Application.Status


def reviewed(call, totals: list[str], **kwargs) -> Application:
    """An application in review with one counted review per total, by fresh reviewers."""
    application = ApplicationFactory(call=call, status=S.IN_REVIEW, **kwargs)
    for total in totals:
        assignment = ReviewAssignment.objects.create(
            application=application, reviewer=UserFactory(), assigned_by=application.created_by
        )
        Review.objects.create(assignment=assignment, scores={}, total=Decimal(total))
    return application


def entered(application: Application, status: str, days_ago: int, from_status: str = "submitted") -> None:
    ApplicationEvent.objects.create(
        application=application,
        action="step",
        from_status=from_status,
        to_status=status,
        at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def many(call, count: int) -> None:
    for n in range(count):
        reviewed(call, ["70", "72", str(60 + n % 30)])
    ApplicationFactory.create_batch(3, call=call, status=S.SCREENING)


def test_dashboard_queries_do_not_grow_with_applications(client, call, manager):
    client.force_login(manager)
    url = reverse("funds_manage:dashboard", kwargs={"call_id": call.pk})
    many(call, 5)
    client.get(url)  # the call's spread fence is cached from here on (selectors.FENCE_SECONDS)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    many(call, 45)
    with CaptureQueriesContext(connection) as more:
        response = client.get(url + "?order=spread")
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 25
    assert response.context["board"].count == 56
    assert len(more) == len(few), [q["sql"] for q in more]


def test_stage_counts_ageing_and_budget(call, manager):
    old = ApplicationFactory(call=call, status=S.SCREENING)
    entered(old, S.SUBMITTED, 12, from_status="draft")
    entered(old, S.SCREENING, 9)
    ApplicationFactory.create_batch(2, call=call, status=S.SUBMITTED)
    ApplicationFactory(call=call)  # a draft: the applicants' own
    call.committed, call.disbursed = Decimal("800000.00"), Decimal("300000.00")
    call.save()

    board = selectors.call_dashboard(user=manager, call=call, filters=DashboardFilters())

    assert board.stages == {"screening": 1, "submitted": 2}
    assert board.count == 3
    row = next(r for r in board.rows if r.application.pk == old.pk)
    assert row.days_in_stage == 9
    assert (board.call.budget_envelope, board.call.remaining) == (Decimal("5000000.00"), Decimal("4200000.00"))


def test_disagreeing_reviews_are_flagged_by_the_iqr_rule(call, manager):
    agreed = [reviewed(call, ["70", "71", "72"]) for _ in range(6)]
    split = reviewed(call, ["80", "82", "30"])

    board = selectors.call_dashboard(user=manager, call=call, filters=DashboardFilters())

    rows = {row.application.pk: row for row in board.rows}
    assert board.spread_fence == selectors.MIN_OUTLIER_SPREAD  # the agreed spreads put the fence near zero
    assert rows[split.pk].outlier
    assert [r.outlier for r in rows[split.pk].reviews] == [False, False, True]
    assert not any(rows[a.pk].outlier for a in agreed)
    only = selectors.call_dashboard(user=manager, call=call, filters=DashboardFilters(outliers_only=True))
    assert [row.application.pk for row in only.rows] == [split.pk]


def test_filters_and_pages(call, manager):
    wanted = ApplicationFactory(call=call, status=S.SUBMITTED, title="大模型推理芯片")
    ApplicationFactory.create_batch(4, call=call, status=S.SCREENING)

    by_words = selectors.call_dashboard(user=manager, call=call, filters=DashboardFilters(search="推理芯片"))
    by_stage = selectors.call_dashboard(user=manager, call=call, filters=DashboardFilters(status="screening"), size=3)
    second = selectors.call_dashboard(
        user=manager, call=call, filters=DashboardFilters(status="screening"), page=2, size=3
    )

    assert [r.application.pk for r in by_words.rows] == [wanted.pk]
    assert (by_stage.count, len(by_stage.rows), len(second.rows)) == (4, 3, 1)


def test_the_dashboard_is_for_the_funds_managers_only(call, other_manager):
    with pytest.raises(selectors.NotVisible):
        selectors.call_dashboard(user=other_manager, call=call, filters=DashboardFilters())


def test_csv_export_holds_the_filtered_queue(client, call, manager):
    split = reviewed(call, ["80", "82", "30"], title="视觉质检")
    for _ in range(3):
        reviewed(call, ["70", "71", "72"])
    ApplicationFactory(call=call, status=S.SUBMITTED)
    client.force_login(manager)

    response = client.get(reverse("funds_manage:export_csv", kwargs={"call_id": call.pk}) + "?status=in_review")

    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.csv"')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"in_review"}
    mine = next(r for r in rows if r["id"] == str(split.pk))
    assert mine["title"] == "视觉质检"
    assert (mine["reviews"], mine["score_mean"], mine["outlier"]) == ("3", "64.00", "True")


def test_xlsx_export_reads_back(client, call, manager):
    application = reviewed(call, ["60", "80"], title="工业大模型")
    client.force_login(manager)

    response = client.get(reverse("funds_manage:export_xlsx", kwargs={"call_id": call.pk}))

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header[:4] == ["id", "title", "organisation", "status"]
    assert len(rows) == 1
    values = dict(zip(header, rows[0], strict=True))
    assert (values["id"], values["title"], values["organisation"]) == (
        application.pk,
        "工业大模型",
        application.organisation.name,
    )
    assert (values["score_mean"], values["score_spread"], values["requested_amount"]) == (70, 10, 500000)


def test_exports_are_for_the_funds_managers_only(client, call, other_manager):
    client.force_login(other_manager)
    for name in ("funds_manage:export_csv", "funds_manage:export_xlsx"):
        assert client.get(reverse(name, kwargs={"call_id": call.pk})).status_code == 404


def test_an_empty_call_and_a_page_past_the_end_render(client, call, manager):
    client.force_login(manager)
    url = reverse("funds_manage:dashboard", kwargs={"call_id": call.pk})

    empty = client.get(url)
    ApplicationFactory.create_batch(3, call=call, status=S.SUBMITTED)
    past = client.get(url + "?page=9")

    assert empty.status_code == 200 and empty.context["board"].count == 0
    assert past.status_code == 200
    assert (past.context["board"].count, past.context["board"].rows) == (3, [])

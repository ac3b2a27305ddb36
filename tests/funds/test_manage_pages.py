"""The fund managers' pages: who gets in (the services' matrix at page level), calls from draft to
published, bulk actions, decisions with reasons and the budget refusal shown on the form, assignments
and conflicts, amendments, tranches, milestone reports and payments."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from funds import services
from funds.models import (
    Application,
    ApplicationEvent,
    ApplicationForm,
    Call,
    Conflict,
    MilestoneReport,
    Payment,
    ReviewAssignment,
)
from tests.factories import UserFactory
from tests.funds.factories import ApplicationFactory, CallFactory
from tests.funds.support import approved, decision_pending, draft, in_review, two_tranches
from tests.funds.test_forms_builder import BASIC, published_form

pytestmark = pytest.mark.django_db

S = Application.Status


@pytest.fixture
def people(call, manager, other_manager, reviewers, applicant, startup) -> dict:
    """An application in review: reviewer 0 assigned, 1 in the pool but unassigned, 2 assigned then
    conflicted (the conflict revokes the assignment)."""
    application = in_review(draft(call, startup, applicant), applicant=applicant, manager=manager)
    services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    services.review_assign(application=application, reviewer=reviewers[2], by=manager)
    services.conflict_declare(by=reviewers[2], reason="曾任该公司顾问", application=application)
    return {
        "application": application,
        "manager": manager,
        "other_manager": other_manager,
        "assigned": reviewers[0],
        "unassigned": reviewers[1],
        "conflicted": reviewers[2],
        "applicant": applicant,
        "anonymous": None,
    }


def manager_urls(application: Application) -> list[str]:
    call, fund = application.call, application.call.fund
    return [
        reverse("funds_manage:call_create", kwargs={"fund_id": fund.pk}),
        reverse("funds_manage:call", kwargs={"call_id": call.pk}),
        reverse("funds_manage:dashboard", kwargs={"call_id": call.pk}),
        reverse("funds_manage:export_csv", kwargs={"call_id": call.pk}),
        reverse("funds_manage:export_xlsx", kwargs={"call_id": call.pk}),
        reverse("funds_manage:application", kwargs={"application_id": application.pk}),
    ]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("manager", 200),
        ("other_manager", 404),
        ("assigned", 404),
        ("unassigned", 404),
        ("conflicted", 404),
        ("applicant", 404),
        ("anonymous", 302),
    ],
)
def test_manager_pages_are_for_the_funds_managers_only(client, people, who, expected):
    if people[who]:
        client.force_login(people[who])
    for url in manager_urls(people["application"]):
        response = client.get(url)
        assert response.status_code == expected, url
        if who == "anonymous":
            assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "expected"),
    [("manager", 200), ("other_manager", 200), ("assigned", 403), ("applicant", 403), ("anonymous", 302)],
)
def test_the_managers_home_lists_only_their_funds(client, people, who, expected):
    if people[who]:
        client.force_login(people[who])
    response = client.get(reverse("funds_manage:home"))
    assert response.status_code == expected
    if expected == 200:
        listed = {fund.pk for fund in response.context["funds"]}
        assert (people["application"].call.fund_id in listed) == (who == "manager")


@pytest.mark.parametrize("who", ["other_manager", "assigned", "applicant"])
def test_outsiders_cannot_act_on_an_application(client, people, who):
    application = people["application"]
    client.force_login(people[who])
    url = reverse("funds_manage:application", kwargs={"application_id": application.pk})
    assert client.post(url, {"action": "reject", "reject-reason": "不符合"}).status_code == 404
    bulk = reverse("funds_manage:bulk", kwargs={"call_id": application.call_id})
    assert client.post(bulk, {"action": "assign"}).status_code == 404
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW and not application.assignments.filter(revoked_at=None).count() > 1


def test_a_conflicted_manager_does_not_manage_that_application(client, people, startup):
    colleague = UserFactory()
    people["application"].call.fund.managers.add(colleague)
    Conflict.objects.create(reviewer=colleague, organisation=startup, reason="持股", recorded_by=colleague)
    client.force_login(colleague)
    url = reverse("funds_manage:application", kwargs={"application_id": people["application"].pk})
    assert client.get(url).status_code == 404


# --- calls -------------------------------------------------------------------------------------------
def test_a_manager_starts_a_call_sets_rubric_and_pool_and_publishes(client, fund, manager):
    client.force_login(manager)
    reviewer = UserFactory(username="reviewer-li")
    response = client.post(
        reverse("funds_manage:call_create", kwargs={"fund_id": fund.pk}),
        {
            "title": "算力补贴专项",
            "opens_at": "2026-12-01T09:00",
            "closes_at": "2027-01-31T17:00",
            "budget_envelope": "2000000",
            "reviewers_per_application": "2",
            "eligible_kinds": ["startup"],
            "eligible_regions": "合肥市，芜湖市",
        },
    )
    call = Call.objects.get(title="算力补贴专项")
    assert response.status_code == 302 and call.status == Call.Status.DRAFT
    assert (call.eligible_kinds, call.eligible_regions) == (["startup"], ["合肥市", "芜湖市"])
    url = reverse("funds_manage:call", kwargs={"call_id": call.pk})

    refused = client.post(url, {"action": "publish"})
    assert refused.status_code == 400
    assert "Give the call a rubric before publishing it." in refused.content.decode()

    rubric = {
        "action": "rubric",
        "rubric-TOTAL_FORMS": "2",
        "rubric-INITIAL_FORMS": "0",
        "rubric-MIN_NUM_FORMS": "1",
        "rubric-MAX_NUM_FORMS": "1000",
        "rubric-0-title": "创新性",
        "rubric-0-weight": "2",
        "rubric-0-max_score": "10",
    }
    saved = client.post(url, rubric)
    assert saved.status_code == 302, saved.context["rubric"].errors
    assert client.post(url, {"action": "pool", "pool": "reviewer-li, 视觉, 大模型"}).status_code == 302
    assert client.post(url, {"action": "publish"}).status_code == 302

    call.refresh_from_db()
    assert call.status == Call.Status.PUBLISHED
    assert list(call.criteria.values_list("title", "weight")) == [("创新性", Decimal("2.00"))]
    assert list(call.pool.values_list("reviewer_id", "expertise")) == [(reviewer.pk, ["大模型", "视觉"])]


def test_call_form_errors_are_shown_and_nothing_is_stored(client, fund, manager):
    client.force_login(manager)
    response = client.post(
        reverse("funds_manage:call_create", kwargs={"fund_id": fund.pk}),
        {
            "title": "超额征集",
            "opens_at": "2026-12-01T09:00",
            "closes_at": "2027-01-31T17:00",
            "budget_envelope": "99999999",
            "reviewers_per_application": "2",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["budget_envelope"] == ["At most 10000000.00."]
    assert not Call.objects.filter(title="超额征集").exists()


def test_an_unknown_reviewer_in_the_pool_is_a_field_error(client, fund, manager):
    call = CallFactory(fund=fund, draft=True)
    client.force_login(manager)
    response = client.post(
        reverse("funds_manage:call", kwargs={"call_id": call.pk}), {"action": "pool", "pool": "nobody"}
    )
    assert "No such user: nobody" in response.context["pool"].errors["pool"][0]
    assert not call.pool.exists()


def test_the_call_form_offers_only_published_application_forms(client, fund, manager):
    published = published_form(BASIC, name="已发布申请表")
    unpublished = ApplicationForm.objects.create(name="未发布申请表", fields=BASIC, live=False)
    client.force_login(manager)
    url = reverse("funds_manage:call_create", kwargs={"fund_id": fund.pk})

    offered = client.get(url).context["form"].fields["form"].queryset
    refused = client.post(
        url,
        {
            "title": "未发布表单征集",
            "opens_at": "2026-12-01T09:00",
            "closes_at": "2027-01-31T17:00",
            "budget_envelope": "2000000",
            "form": str(unpublished.pk),
        },
    )

    assert list(offered) == [published]
    assert refused.status_code == 400 and "form" in refused.context["form"].errors
    assert not Call.objects.filter(title="未发布表单征集").exists()


# --- the dashboard's bulk actions ----------------------------------------------------------------------
def test_bulk_screening_moves_the_ticked_and_says_why_one_was_refused(client, call, manager):
    submitted = ApplicationFactory.create_batch(2, call=call, status=S.SUBMITTED)
    screening = ApplicationFactory(call=call, status=S.SCREENING)
    client.force_login(manager)

    response = client.post(
        reverse("funds_manage:bulk", kwargs={"call_id": call.pk}),
        {"action": "screen", "applications": [a.pk for a in [*submitted, screening]]},
        follow=True,
    )

    statuses = dict(Application.objects.filter(call=call).values_list("pk", "status"))
    assert {statuses[a.pk] for a in submitted} == {S.SCREENING}
    notes = [str(m) for m in response.context["messages"]]
    assert "2 applications moved on." in notes
    assert any(note.startswith(f"#{screening.pk} ") for note in notes)


def test_bulk_start_review_then_automatic_assignment(client, call, manager, reviewers):
    screening = ApplicationFactory.create_batch(3, call=call, status=S.SCREENING)
    other_call = ApplicationFactory(status=S.SCREENING)  # another fund's: never touched
    client.force_login(manager)
    url = reverse("funds_manage:bulk", kwargs={"call_id": call.pk})

    client.post(url, {"action": "start_review", "applications": [a.pk for a in screening] + [other_call.pk]})
    response = client.post(url, {"action": "assign"}, follow=True)

    assert set(Application.objects.filter(call=call).values_list("status", flat=True)) == {S.IN_REVIEW}
    other_call.refresh_from_db()
    assert other_call.status == S.SCREENING
    assert ReviewAssignment.objects.filter(application__call=call).count() == 6
    assert "6 reviewers assigned." in [str(m) for m in response.context["messages"]]


def test_a_bulk_action_without_ticks_is_refused_plainly(client, call, manager):
    client.force_login(manager)
    response = client.post(reverse("funds_manage:bulk", kwargs={"call_id": call.pk}), {"action": "screen"}, follow=True)
    assert "Tick the applications to act on." in [str(m) for m in response.context["messages"]]


# --- decisions -------------------------------------------------------------------------------------
def page_of(application: Application) -> str:
    return reverse("funds_manage:application", kwargs={"application_id": application.pk})


def test_approve_with_amount_and_reason(client, call, manager, reviewers, applicant, startup):
    application = decision_pending(
        draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0]
    )
    client.force_login(manager)

    response = client.post(
        page_of(application), {"action": "approve", "approve-amount": "300000", "approve-reason": "技术领先"}
    )

    assert response.status_code == 302
    application.refresh_from_db()
    call.refresh_from_db()
    assert (application.status, application.approved_amount, call.committed) == (
        S.APPROVED,
        Decimal("300000.00"),
        Decimal("300000.00"),
    )
    assert application.trail.get(action="approve").reason == "技术领先"


def test_reject_needs_a_reason(client, call, manager, applicant, startup):
    application = in_review(draft(call, startup, applicant), applicant=applicant, manager=manager)
    screening = ApplicationFactory(call=call, status=S.SCREENING)
    client.force_login(manager)

    missing = client.post(page_of(screening), {"action": "reject", "reject-reason": ""})
    done = client.post(page_of(screening), {"action": "reject", "reject-reason": "不属于支持领域"})

    assert missing.status_code == 400 and "reason" in missing.context["reject_form"].errors
    assert done.status_code == 302
    screening.refresh_from_db()
    assert screening.status == S.REJECTED
    assert screening.trail.get(action="reject").reason == "不属于支持领域"
    refused = client.post(page_of(application), {"action": "reject", "reject-reason": "不符合"})
    assert refused.status_code == 400
    assert "cannot reject now" in refused.context["reject_form"].non_field_errors()[0]


def test_a_budget_refusal_is_shown_on_the_approval_form(client, call, manager, reviewers, applicant, startup):
    application = decision_pending(
        draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0]
    )
    Call.objects.filter(pk=call.pk).update(committed=Decimal("4800000.00"))
    client.force_login(manager)

    response = client.post(
        page_of(application), {"action": "approve", "approve-amount": "300000", "approve-reason": "技术领先"}
    )

    assert response.status_code == 400
    assert response.context["approve_form"].non_field_errors() == ["Only 200000.00 of the call's envelope is left."]
    application.refresh_from_db()
    assert application.status == S.DECISION_PENDING
    assert not ApplicationEvent.objects.filter(application=application, action="approve").exists()


# --- review management -------------------------------------------------------------------------------
def test_manual_assignment_override_and_taking_it_back(client, people):
    application, manager = people["application"], people["manager"]
    client.force_login(manager)

    assert (
        client.post(page_of(application), {"action": "assign", "assign-reviewer": people["unassigned"].pk}).status_code
        == 302
    )
    conflicted = client.post(page_of(application), {"action": "assign", "assign-reviewer": people["conflicted"].pk})
    assert conflicted.status_code == 400
    assert conflicted.context["assign_form"].non_field_errors() == [
        "This reviewer has a conflict of interest with the application."
    ]
    assignment = ReviewAssignment.objects.get(application=application, reviewer=people["unassigned"], revoked_at=None)
    assert assignment.manual
    taken = client.post(
        page_of(application), {"action": "unassign", "unassign-assignment": assignment.pk, "unassign-reason": "回避"}
    )
    assert taken.status_code == 302
    assignment.refresh_from_db()
    assert assignment.revoked_reason == "回避"


def test_a_manager_records_a_conflict(client, people):
    application, assigned = people["application"], people["assigned"]
    client.force_login(people["manager"])

    response = client.post(
        page_of(application), {"action": "conflict", "conflict-reviewer": assigned.pk, "conflict-reason": "近亲属任职"}
    )

    assert response.status_code == 302
    assert Conflict.objects.filter(reviewer=assigned, application=application, recorded_by=people["manager"]).exists()
    assert not ReviewAssignment.objects.filter(reviewer=assigned, application=application, revoked_at=None).exists()


# --- after approval ------------------------------------------------------------------------------------
def test_amend_plan_accept_report_and_pay(client, call, manager, reviewers, applicant, startup):
    application = approved(draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0])
    client.force_login(manager)
    url = page_of(application)

    amended = client.post(url, {"action": "amend", "amend-approved_amount": "360000", "amend-reason": "预算调整"})
    assert amended.status_code == 302
    application.refresh_from_db()
    plan = {
        "action": "plan",
        "plan-TOTAL_FORMS": "3",
        "plan-INITIAL_FORMS": "0",
        "plan-MIN_NUM_FORMS": "1",
        "plan-MAX_NUM_FORMS": "1000",
    }
    for n, tranche in enumerate(two_tranches(application)):
        plan |= {
            f"plan-{n}-milestone": tranche["milestone"],
            f"plan-{n}-amount": str(tranche["amount"]),
            f"plan-{n}-due": tranche["due"],
        }
    short = plan | {"plan-1-amount": "1000"}
    mismatch = client.post(url, short)
    assert mismatch.status_code == 400
    assert "The tranches add up to" in mismatch.context["plan_form"].non_form_errors()[0]
    assert client.post(url, plan).status_code == 302
    assert client.post(url, {"action": "sign_agreement"}).status_code == 302

    first = application.tranches.order_by("position").first()
    early = client.post(url, {"action": "pay", "pay-tranche": first.pk, "pay-reference": "ZF-2027-001"})
    assert early.status_code == 400
    assert early.context["pay_form"].non_field_errors() == [
        "The tranche is paid only after its milestone report is accepted."
    ]
    report = services.milestone_report_submit(tranche=first, by=applicant, text="原型已完成。")
    accepted = client.post(
        url, {"action": "report", "report-report": report.pk, "report-decision": "accept", "report-comment": ""}
    )
    assert accepted.status_code == 302
    paid = client.post(url, {"action": "pay", "pay-tranche": first.pk, "pay-reference": "ZF-2027-001"})
    assert paid.status_code == 302

    application.refresh_from_db()
    assert (application.approved_amount, application.status, application.disbursed) == (
        Decimal("360000.00"),
        S.DISBURSING,
        Decimal("180000.00"),
    )
    assert MilestoneReport.objects.get(pk=report.pk).status == MilestoneReport.Status.ACCEPTED
    assert Payment.objects.get(tranche=first).reference == "ZF-2027-001"
    assert application.trail.get(action="amend").reason == "预算调整"


def test_a_steps_message_is_a_list_inside_a_status_region(client, call, manager):
    """role="status" on the list itself took its list role away (axe: listitem outside a list)."""
    application = ApplicationFactory(call=call, status=S.SUBMITTED)
    client.force_login(manager)

    html = client.post(page_of(application), {"action": "screen"}, follow=True).content.decode()

    assert re.search(r'<div role="status"><ul class="messages"><li class="success">[^<]+</li></ul></div>', html)


def test_an_unknown_action_is_a_404_not_a_500(client, people):
    client.force_login(people["manager"])
    assert client.post(page_of(people["application"]), {"action": "explode"}).status_code == 404


def test_the_pages_speak_chinese_at_the_root_and_english_under_en(client, people):
    client.force_login(people["manager"])
    call_id = people["application"].call_id

    chinese = client.get(f"/funds/manage/calls/{call_id}/dashboard/")
    english = client.get(f"/en/funds/manage/calls/{call_id}/dashboard/")

    assert chinese.status_code == english.status_code == 200
    assert '<html lang="zh-hans"' in chinese.content.decode()
    assert '<html lang="en"' in english.content.decode()


def test_ask_for_information_then_close_the_review(client, call, manager, reviewers, applicant, startup):
    asked = ApplicationFactory(call=call, status=S.SCREENING)
    reviewed = in_review(draft(call, startup, applicant), applicant=applicant, manager=manager)
    assignment = services.review_assign(application=reviewed, reviewer=reviewers[0], by=manager)
    client.force_login(manager)

    early = client.post(page_of(reviewed), {"action": "close_review"}, follow=True)
    services.review_submit(assignment=assignment, by=reviewers[0], scores={c.pk: 5 for c in call.criteria.all()})
    closed = client.post(page_of(reviewed), {"action": "close_review"})
    question = client.post(page_of(asked), {"action": "request_information", "info-reason": "请补充财务报表。"})

    assert "Every assigned reviewer must submit a review first." in [str(m) for m in early.context["messages"]]
    assert closed.status_code == question.status_code == 302
    reviewed.refresh_from_db()
    asked.refresh_from_db()
    assert (reviewed.status, asked.status) == (S.DECISION_PENDING, S.MORE_INFORMATION)
    assert asked.trail.get(action="request_information").reason == "请补充财务报表。"

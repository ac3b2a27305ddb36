"""The funds services' refusals an applicant or manager can act on (nothing half-stored), calls,
locking and amendments, and milestone-gated disbursement."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from funds import services
from funds.models import Application, Call, Fund, Payment, Tranche
from tests.factories import MembershipFactory, UserFactory
from tests.funds.factories import CallFactory
from tests.funds.support import approved, decision_pending, draft, published, two_tranches

pytestmark = pytest.mark.django_db

S = Application.Status


# --- calls ---------------------------------------------------------------------------------------
CALL = {
    "title": " 2027年度大模型应用项目征集 ",
    "opens_at": timezone.now() - datetime.timedelta(hours=1),
    "closes_at": timezone.now() + datetime.timedelta(days=60),
    "budget_envelope": Decimal("3000000"),
    "eligible_kinds": ["startup"],
    "eligible_regions": ["合肥市"],
}


def test_a_manager_sets_up_and_publishes_a_call_once(fund, manager, other_manager, reviewers):
    with pytest.raises(services.NotPermitted):
        services.call_create(fund=fund, by=other_manager, fields=CALL)
    call = services.call_create(fund=fund, by=manager, fields=CALL)
    assert (call.status, call.title, call.created_by) == (Call.Status.DRAFT, "2027年度大模型应用项目征集", manager)
    with pytest.raises(services.CallRefused) as refused:
        services.call_publish(call=call, by=manager)
    assert refused.value.code == "rubric_missing"
    services.call_set_rubric(
        call=call,
        by=manager,
        criteria=[{"title": "创新性", "weight": "2", "max_score": 10}, {"title": "可行性", "weight": "1"}],
    )
    services.call_set_pool(call=call, by=manager, reviewers={reviewers[0]: ["大模型", " 大模型 "], reviewers[1]: []})
    assert [(p.reviewer, p.expertise) for p in call.pool.order_by("id")] == [
        (reviewers[0], ["大模型"]),
        (reviewers[1], []),
    ]
    with pytest.raises(services.NotPermitted):
        services.call_publish(call=call, by=other_manager)
    call = services.call_publish(call=call, by=manager)
    assert call.status == Call.Status.PUBLISHED and call.published_at
    [event] = published("funds.call.published.v1")
    assert (event["call_id"], event["version"], event["budget_envelope"]) == (call.pk, 1, "3000000.00")
    assert event["eligible_regions"] == ["合肥市"]
    with pytest.raises(services.CallRefused) as refused:
        services.call_publish(call=call, by=manager)
    assert refused.value.code == "already_published"
    with pytest.raises(services.CallRefused):  # its terms stay as announced
        services.call_update(call=call, by=manager, fields={"budget_envelope": Decimal("9000000")})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget_envelope": Decimal("10000000.01")}, "budget_envelope"),  # more than the fund
        ({"budget_envelope": Decimal("-1")}, "__all__"),
        ({"closes_at": timezone.now() - datetime.timedelta(days=1)}, "__all__"),  # closes before it opens
        ({"title": ""}, "title"),
        ({"eligible_kinds": ["pirates"]}, "eligible_kinds"),
        ({"reviewers_per_application": 0}, "__all__"),
    ],
)
def test_a_bad_call_is_refused_naming_the_field(fund, manager, change, field):
    with pytest.raises(services.CallRefused) as refused:
        services.call_create(fund=fund, by=manager, fields={**CALL, **change})
    assert field in refused.value.errors, refused.value.errors
    assert not Call.objects.exists()


def test_a_bad_rubric_is_refused_whole(fund, manager):
    call = services.call_create(fund=fund, by=manager, fields=CALL)
    services.call_set_rubric(call=call, by=manager, criteria=[{"title": "创新性", "weight": "1"}])
    with pytest.raises(services.CallRefused) as refused:
        services.call_set_rubric(
            call=call, by=manager, criteria=[{"title": "创新性", "weight": "1"}, {"title": "", "weight": "0"}]
        )
    assert set(refused.value.errors) >= {"criteria.2.title"}
    assert [c.title for c in call.criteria.all()] == ["创新性"]  # the old rubric stands


# --- applications ------------------------------------------------------------------------------
def test_an_applicant_starts_a_draft_with_co_applicants_of_their_organisation(call, startup, applicant, co_applicant):
    application = draft(call, startup, applicant, answers={"summary": "视觉质检"}, co_applicants=[co_applicant])
    assert (application.status, application.form_version, application.requested_amount) == (
        S.DRAFT, call.form_version, Decimal("500000.00"),
    )  # fmt: skip
    assert list(application.co_applicants.all()) == [co_applicant]
    assert [e.action for e in application.trail.all()] == ["create"]
    assert not published("funds.application.submitted.v1")  # drafts publish nothing


def test_only_members_apply_for_an_organisation(call, startup):
    with pytest.raises(services.NotPermitted):
        draft(call, startup, UserFactory())
    assert not Application.objects.exists()


def test_co_applicants_must_belong_to_the_applicant_organisation(call, startup, applicant):
    with pytest.raises(services.ApplicationRefused) as refused:
        draft(call, startup, applicant, co_applicants=[UserFactory()])
    assert "co_applicants" in refused.value.errors
    assert not Application.objects.exists()  # nothing half-stored


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-100", "more than zero"),
        ("0", "more than zero"),
        ("abc", "amount in yuan"),
        ("NaN", "amount in yuan"),
        ("Infinity", "amount in yuan"),
        ("100.001", "two decimal places"),
        ("5000000.01", "whole envelope"),  # more than the call's envelope: absurd
        ("1e30", "whole envelope"),
    ],
)
def test_negative_or_absurd_amounts_are_refused_with_a_clear_message(call, startup, applicant, amount, message):
    with pytest.raises(services.ApplicationRefused) as refused:
        draft(call, startup, applicant, amount=amount)
    assert refused.value.code == "invalid_amount"
    assert message in refused.value.message
    assert "requested_amount" in refused.value.errors
    assert not Application.objects.exists()


def test_amounts_may_be_written_with_thousands_separators(call, startup, applicant):
    assert draft(call, startup, applicant, amount="1,200,000.50").requested_amount == Decimal("1200000.50")


@pytest.mark.parametrize(
    ("kinds", "regions"), [(["university"], []), ([], ["芜湖市"]), (["startup"], ["芜湖市", "蚌埠市"])]
)
def test_ineligible_organisations_cannot_apply(fund, startup, applicant, kinds, regions):
    call = CallFactory(fund=fund, eligible_kinds=kinds, eligible_regions=regions)
    with pytest.raises(services.ApplicationRefused) as refused:
        draft(call, startup, applicant)
    assert refused.value.code == "not_eligible"


def test_a_call_not_yet_open_takes_no_applications(fund, startup, applicant):
    call = CallFactory(fund=fund, opens_at=timezone.now() + datetime.timedelta(days=1))
    with pytest.raises(services.ApplicationRefused) as refused:
        draft(call, startup, applicant)
    assert refused.value.code == "call_not_open"


def test_answers_that_are_not_a_set_of_answers_are_refused(call, startup, applicant):
    with pytest.raises(services.ApplicationRefused) as refused:
        draft(call, startup, applicant, answers=["tampered"])
    assert "answers" in refused.value.errors
    assert not Application.objects.exists()


def test_submitting_after_the_call_closed_is_refused(call, startup, applicant):
    application = draft(call, startup, applicant)
    Call.objects.filter(pk=call.pk).update(closes_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_submit(application=application, by=applicant)
    assert refused.value.code == "call_closed" and "closed on" in refused.value.message
    application.refresh_from_db()
    assert (application.status, application.submitted_at) == (S.DRAFT, None)


def test_a_double_submit_is_refused_and_publishes_once(call, startup, applicant, co_applicant):
    application = draft(call, startup, applicant, co_applicants=[co_applicant])
    services.application_submit(application=application, by=co_applicant)
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_submit(application=application, by=applicant)
    assert refused.value.code == "already_submitted"
    assert len(published("funds.application.submitted.v1")) == 1


def test_answers_change_only_while_editable(call, startup, applicant, manager):
    application = draft(call, startup, applicant)
    services.application_update(application=application, by=applicant, fields={"answers": {"a": 1}, "tags": ["质检"]})
    services.application_submit(application=application, by=applicant)
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_update(application=application, by=applicant, fields={"answers": {"a": 2}})
    assert refused.value.code == "not_editable"
    application.refresh_from_db()
    assert (application.answers, application.tags) == ({"a": 1}, ["质检"])
    with pytest.raises(TypeError):  # not a field an applicant sets: a programming error, not a user's
        services.application_update(application=application, by=applicant, fields={"approved_amount": 1})


def test_answers_keep_the_form_version_they_were_given_on(call, startup, applicant):
    application = draft(call, startup, applicant)
    Call.objects.filter(pk=call.pk).update(form_version=2)
    application.refresh_from_db()
    assert application.form_version == 1
    services.application_update(application=application, by=applicant, fields={"answers": {"new": "表单"}})
    application.refresh_from_db()
    assert application.form_version == 2


def test_the_approved_amount_cannot_exceed_the_request(call, startup, applicant, manager, reviewers):
    application = decision_pending(
        draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0]
    )
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_approve(application=application, by=manager, amount="500000.01", reason="通过")
    assert "amount" in refused.value.errors
    assert Fund.objects.get(pk=call.fund_id).committed == 0


def test_an_approved_application_is_locked_and_changes_only_by_amendment(call, startup, applicant, manager, reviewers):
    application = approved(draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0])
    assert application.locked
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_update(application=application, by=applicant, fields={"title": "改名"})
    assert refused.value.code == "not_editable"
    with pytest.raises(services.NotPermitted):
        services.application_amend(application=application, by=applicant, reason="想多要", approved_amount="450000")
    services.application_amend(application=application, by=manager, reason="补充算力预算", approved_amount="450000")
    application.refresh_from_db()
    assert application.approved_amount == Decimal("450000.00")
    [event] = published("funds.application.amended.v1")
    assert event["approved_amount"] == "450000.00"


# --- disbursement --------------------------------------------------------------------------------
@pytest.fixture
def granted(call, startup, applicant, manager, reviewers) -> Application:
    """Approved for 400,000, two tranches of 200,000, agreement signed."""
    application = approved(draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0])
    services.tranches_plan(application=application, by=manager, tranches=two_tranches(application))
    return services.application_sign_agreement(application=application, by=manager)


def test_the_tranche_plan_must_add_up_before_the_agreement(call, startup, applicant, manager, reviewers):
    application = approved(draft(call, startup, applicant), applicant=applicant, manager=manager, reviewer=reviewers[0])
    with pytest.raises(services.DisbursementRefused) as refused:
        services.tranches_plan(
            application=application,
            by=manager,
            tranches=[{"milestone": "原型", "amount": "100000", "due": "2027-01-01"}],
        )
    assert refused.value.code == "plan_mismatch"
    with pytest.raises(services.DisbursementRefused) as refused:
        services.tranches_plan(
            application=application, by=manager, tranches=[{"milestone": "原型", "amount": "-5", "due": "2027-01-01"}]
        )
    assert refused.value.code == "invalid_amount" and "tranches" in refused.value.errors
    assert not Tranche.objects.exists()
    with pytest.raises(services.DisbursementRefused):
        services.application_sign_agreement(application=application, by=manager)


def test_a_tranche_is_paid_only_after_its_milestone_report_is_accepted(granted, applicant, manager):
    first = granted.tranches.get(position=1)
    with pytest.raises(services.DisbursementRefused) as refused:
        services.tranche_pay(tranche=first, by=manager, reference="HF-1")
    assert refused.value.code == "milestone_not_accepted"
    report = services.milestone_report_submit(tranche=first, by=applicant, text="原型已完成")
    with pytest.raises(services.DisbursementRefused):
        services.tranche_pay(tranche=first, by=manager, reference="HF-1")  # submitted, not yet accepted
    services.milestone_report_review(report=report, by=manager, accept=False, comment="缺少测试报告")
    with pytest.raises(services.DisbursementRefused):
        services.tranche_pay(tranche=first, by=manager, reference="HF-1")  # returned
    report = services.milestone_report_submit(tranche=first, by=applicant, text="原型已完成，附测试报告")
    services.milestone_report_review(report=report, by=manager, accept=True)

    payment = services.tranche_pay(tranche=first, by=manager, reference=" HF-1 ")
    assert (payment.reference, payment.amount) == ("HF-1", Decimal("200000.00"))
    granted.refresh_from_db()
    assert granted.status == S.DISBURSING
    [paid] = published("funds.tranche.paid.v1")
    assert (paid["tranche_id"], paid["amount"], paid["reference"]) == (first.pk, "200000.00", "HF-1")
    with pytest.raises(services.DisbursementRefused) as refused:
        services.tranche_pay(tranche=first, by=manager, reference="HF-2")
    assert refused.value.code == "already_paid"


def test_budget_figures_stay_consistent_through_payments(granted, applicant, manager):
    first, second = granted.tranches.order_by("position")
    for tranche in (first, second):
        services.milestone_report_review(
            report=services.milestone_report_submit(tranche=tranche, by=applicant, text="完成"), by=manager, accept=True
        )
    services.tranche_pay(tranche=first, by=manager, reference="HF-1")
    with pytest.raises(services.DisbursementRefused) as refused:
        services.tranche_pay(tranche=second, by=manager, reference="HF-1")
    assert refused.value.code == "duplicate_reference"
    with pytest.raises(services.DisbursementRefused) as refused:
        services.application_close(application=granted, by=manager)
    assert refused.value.code == "not_fully_paid"
    services.tranche_pay(tranche=second, by=manager, reference="HF-2")

    call = Call.objects.get(pk=granted.call_id)
    fund = Fund.objects.get(pk=call.fund_id)
    granted.refresh_from_db()
    assert granted.disbursed == call.disbursed == fund.disbursed == Decimal("400000.00")
    assert call.committed == fund.committed == Decimal("400000.00")
    assert sum(p.amount for p in Payment.objects.all()) == fund.disbursed
    assert services.application_close(application=granted, by=manager).status == S.CLOSED


def test_an_amendment_cannot_go_below_what_was_paid_and_replans_the_open_tranches(granted, applicant, manager):
    first = granted.tranches.get(position=1)
    services.milestone_report_review(
        report=services.milestone_report_submit(tranche=first, by=applicant, text="完成"), by=manager, accept=True
    )
    services.tranche_pay(tranche=first, by=manager, reference="HF-1")
    with pytest.raises(services.DisbursementRefused) as refused:
        services.application_amend(application=granted, by=manager, reason="缩减", approved_amount="150000")
    assert refused.value.code == "below_disbursed"
    with pytest.raises(services.DisbursementRefused) as refused:  # the plan would no longer add up
        services.application_amend(application=granted, by=manager, reason="缩减", approved_amount="300000")
    assert refused.value.code == "plan_mismatch"
    services.application_amend(
        application=granted,
        by=manager,
        reason="第二阶段缩减",
        approved_amount="300000",
        tranches=[{"milestone": "试点部署（缩减）", "amount": "100000", "due": "2027-09-30"}],
    )
    assert [(t.position, t.amount) for t in granted.tranches.order_by("position")] == [
        (1, Decimal("200000.00")), (2, Decimal("100000.00")),
    ]  # fmt: skip
    assert Call.objects.get(pk=granted.call_id).committed == Decimal("300000.00")


def test_milestone_reports_come_from_the_applicants_after_the_agreement(granted, manager, startup):
    tranche = granted.tranches.first()
    with pytest.raises(services.NotPermitted):
        services.milestone_report_submit(tranche=tranche, by=manager, text="代为提交")
    colleague = MembershipFactory(organisation=startup).user  # a member, but not on the application
    with pytest.raises(services.NotPermitted):
        services.milestone_report_submit(tranche=tranche, by=colleague, text="完成")
    assert not tranche.reports.exists()


# --- admin -------------------------------------------------------------------------------------------
def test_the_admin_shows_funds_read_only(client, granted):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    for path in ("/django-admin/funds/application/", f"/django-admin/funds/application/{granted.pk}/change/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert granted.title in response.content.decode()
    assert client.get("/django-admin/funds/fund/add/").status_code == 403

"""The applicants' pages: calls, starting, the multi-step form with autosave and attachments, the check
before submitting, receipt, timeline, more information, co-applicants and withdrawing; and who may see
them (applicant, co-applicant, another startup's member, anonymous)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from funds import demo, services
from funds.credit.models import SubsidyProgramme
from funds.models import Application, ApplicationEvent, Attachment, Call
from hub.accounts import demo as accounts_demo
from tests.factories import MembershipFactory, OrganisationFactory
from tests.funds.support import draft
from tests.funds.test_forms_builder import BASIC, pdf, published_form

S = Application.Status


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def form_call(call: Call) -> Call:
    form = published_form(BASIC)
    Call.objects.filter(pk=call.pk).update(form=form, form_version=1)
    call.refresh_from_db()
    return call


@pytest.fixture
def application(form_call, startup, applicant, co_applicant) -> Application:
    return draft(form_call, startup, applicant, co_applicants=[co_applicant])


@pytest.fixture
def outsider(db):
    """A member of another startup."""
    return MembershipFactory(organisation=OrganisationFactory(kind="startup")).user


def url(name: str, *args) -> str:
    """The Chinese page's path (the default language, at the root); prefix /en for the English one."""
    with translation.override("zh-hans"):
        return reverse(f"funds:{name}", args=args)


STEP1 = {"summary": "视觉质检", "staff": "12", "stage": "idea", "customers": ""}


def step2(**extra) -> dict:
    data = {
        "budget-0-item": "算力",
        "budget-0-amount": "100000",
        "budget-1-item": "人员",
        "budget-1-amount": "50000.50",
    }
    data.update({"truthful": "on", "own_funds": "", "start": "2026-12-01"}, **extra)
    return data


def fill(client, application, **files) -> None:
    """Answer both steps through the pages, as the applicant would."""
    assert client.post(url("step", application.pk, 1), {**STEP1, "action": "next"}).status_code == 302
    response = client.post(url("step", application.pk, 2), {**step2(), "plan": pdf(), "action": "next", **files})
    assert response.status_code == 302, response.content.decode()[:2000]


# --- calls and starting ---------------------------------------------------------------------------
def test_anyone_reads_the_open_calls_and_a_call_with_who_may_apply(client, form_call):
    Call.objects.filter(pk=form_call.pk).update(eligible_kinds=["startup"], eligible_regions=["合肥市"])
    assert form_call.title in client.get(url("calls")).content.decode()
    page = client.get(f"/en{url('call', form_call.pk)}").content.decode()
    assert "合肥市" in page and "Startup" in page
    assert reverse("login") in page  # anonymous: sign in to apply
    assert "Open calls for funding" in client.get(f"/en{url('calls')}").content.decode()


def test_a_startup_member_starts_an_application_and_lands_on_its_first_step(client, form_call, applicant, startup):
    client.force_login(applicant)
    assert "Start application" in client.get(f"/en{url('call', form_call.pk)}").content.decode()
    response = client.post(
        url("apply", form_call.pk),
        {"organisation": startup.pk, "title": "工业视觉质检大模型", "requested_amount": "300000"},
    )
    application = Application.objects.get()
    assert response["Location"] == url("step", application.pk, 1)
    assert (application.organisation, application.created_by, application.form_version) == (startup, applicant, 1)


def test_starting_with_an_absurd_amount_is_a_form_error_and_stores_nothing(client, form_call, applicant, startup):
    client.force_login(applicant)
    response = client.post(
        url("apply", form_call.pk), {"organisation": startup.pk, "title": "项目", "requested_amount": "999999999"}
    )
    assert response.status_code == 400 and "error-summary" in response.content.decode()
    assert not Application.objects.exists()


# --- who sees what ---------------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["application", "step", "review", "withdraw"])
def test_another_startup_member_gets_a_404_and_anonymous_the_sign_in(client, application, outsider, page):
    args = (application.pk, 1) if page == "step" else (application.pk,)
    assert client.get(url(page, *args)).status_code == 302  # to sign in
    client.force_login(outsider)
    assert client.get(url(page, *args)).status_code == 404
    assert client.post(url("autosave", application.pk, 1), STEP1).status_code == 404


def test_a_co_applicant_edits_but_only_the_applicant_withdraws(client, application, co_applicant):
    client.force_login(co_applicant)
    assert client.get(url("step", application.pk, 1)).status_code == 200
    assert client.post(url("step", application.pk, 1), {**STEP1, "action": "draft"}).status_code == 302
    response = client.post(url("withdraw", application.pk), {"confirm": "on"})
    assert response.status_code == 403
    application.refresh_from_db()
    assert (application.status, application.answers["summary"]) == (S.DRAFT, "视觉质检")


# --- the multi-step form ---------------------------------------------------------------------------
def test_steps_save_answers_keep_the_others_and_totals_are_computed_by_the_server(client, application, applicant):
    client.force_login(applicant)
    page = client.get(url("step", application.pk, 1)).content.decode()
    assert "<legend>" in page and 'data-show-if-field="stage"' in page and "autosave" in page
    fill(client, application, **{"budget-totals": "1"})
    application.refresh_from_db()
    assert application.answers["summary"] == "视觉质检"  # step 1 kept when step 2 was saved
    assert application.answers["budget"]["totals"] == {"amount": "150000.50"}
    assert application.answers["plan"]["attachment"] == Attachment.objects.get().pk


def test_an_answer_to_a_question_hidden_by_its_show_if_is_dropped(client, application, applicant):
    client.force_login(applicant)
    client.post(url("step", application.pk, 1), {**STEP1, "customers": "伪造的答案", "action": "draft"})
    application.refresh_from_db()
    assert "customers" not in application.answers
    client.post(
        url("step", application.pk, 1), {**STEP1, "stage": "product", "customers": "三家工厂", "action": "draft"}
    )
    application.refresh_from_db()
    assert application.answers["customers"] == "三家工厂"


def test_a_wrong_answer_comes_back_as_a_field_error_and_nothing_is_saved(client, application, applicant):
    client.force_login(applicant)
    response = client.post(url("step", application.pk, 1), {**STEP1, "staff": "十二", "action": "next"})
    page = response.content.decode()
    assert response.status_code == 400 and 'href="#id_staff"' in page
    application.refresh_from_db()
    assert application.answers == {}


def test_autosave_saves_a_step_and_refuses_a_wrong_answer_in_json(client, application, applicant):
    client.force_login(applicant)
    saved = client.post(url("autosave", application.pk, 1), {"summary": "自动保存", "staff": "", "stage": ""})
    assert saved.status_code == 200 and saved.json()["saved"] is True
    application.refresh_from_db()
    assert application.answers == {"summary": "自动保存"}
    refused = client.post(url("autosave", application.pk, 1), {"summary": "x", "staff": "501"})
    assert refused.status_code == 400 and "staff" in refused.json()["errors"]
    application.refresh_from_db()
    assert application.answers == {"summary": "自动保存"}
    # The page reloaded shows what was autosaved.
    assert "自动保存" in client.get(url("step", application.pk, 1)).content.decode()


@pytest.mark.parametrize("upload", [pdf(name="plan.exe"), pdf(size=2 * 1024 * 1024)], ids=["type", "size"])
def test_an_attachment_of_a_forbidden_type_or_too_large_is_refused_and_nothing_stored(
    client, application, applicant, settings, upload
):
    client.force_login(applicant)
    response = client.post(url("step", application.pk, 2), {**step2(), "plan": upload, "action": "draft"})
    assert response.status_code == 400 and 'href="#id_plan"' in response.content.decode()
    application.refresh_from_db()
    assert (Attachment.objects.count(), application.answers) == (0, {})
    assert not (settings.PRIVATE_MEDIA_ROOT.exists() and any(settings.PRIVATE_MEDIA_ROOT.rglob("*.*")))


def test_attachments_are_downloaded_by_the_applicants_only(client, application, applicant, outsider):
    client.force_login(applicant)
    fill(client, application)
    attachment = Attachment.objects.get()
    response = client.get(url("attachment", application.pk, attachment.pk))
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")
    client.force_login(outsider)
    assert client.get(url("attachment", application.pk, attachment.pk)).status_code == 404


# --- submitting ------------------------------------------------------------------------------------
def test_the_check_lists_what_is_missing_by_step_and_submit_waits_for_it(client, application, applicant):
    client.force_login(applicant)
    client.post(url("step", application.pk, 1), {**STEP1, "action": "draft"})
    page = client.get(url("review", application.pk)).content.decode()
    assert (
        f"{url('step', application.pk, 2)}#id_plan" in page and f"{url('step', application.pk, 2)}#id_truthful" in page
    )
    assert client.post(url("review", application.pk)).status_code == 400
    application.refresh_from_db()
    assert application.status == S.DRAFT


def test_submit_gives_a_receipt_page_and_pdf_and_a_second_submit_changes_nothing(client, application, applicant):
    client.force_login(applicant)
    fill(client, application)
    response = client.post(url("review", application.pk))
    assert response["Location"] == url("receipt", application.pk)
    receipt = client.get(url("receipt", application.pk)).content.decode()
    assert f"WZF-{application.call_id:04d}-{application.pk:06d}" in receipt and "150000.50" in receipt
    pdf_response = client.get(url("receipt_pdf", application.pk))
    assert pdf_response["Content-Type"] == "application/pdf" and pdf_response.content.startswith(b"%PDF")
    again = client.post(url("review", application.pk))
    assert again.status_code == 302 and again["Location"] == url("application", application.pk)
    assert ApplicationEvent.objects.filter(application=application, action="submit").count() == 1


def test_submitting_after_the_close_is_refused_with_the_date(client, application, applicant):
    client.force_login(applicant)
    fill(client, application)
    Call.objects.filter(pk=application.call_id).update(
        opens_at=timezone.now() - datetime.timedelta(days=30), closes_at=timezone.now() - datetime.timedelta(hours=1)
    )
    response = client.post(f"/en{url('review', application.pk)}")
    assert response.status_code == 400 and "closed on" in response.content.decode()
    application.refresh_from_db()
    assert application.status == S.DRAFT
    assert client.get(url("receipt", application.pk)).status_code == 404


# --- after submitting ------------------------------------------------------------------------------
def test_the_timeline_shows_the_steps_and_a_request_for_more_information_is_answered(
    client, application, applicant, manager
):
    client.force_login(applicant)
    fill(client, application)
    client.post(url("review", application.pk))
    services.application_screen(application=application, by=manager)
    services.application_request_information(application=application, by=manager, reason="请补充财务报表。")
    page = client.get(f"/en{url('application', application.pk)}").content.decode()
    assert "请补充财务报表。" in page and "Submitted" in page and "More information requested" in page
    client.post(url("step", application.pk, 1), {**STEP1, "summary": "已补充", "action": "draft"})
    assert client.post(url("review", application.pk), {"note": "已上传"})["Location"] == url(
        "application", application.pk
    )
    application.refresh_from_db()
    assert (application.status, application.answers["summary"]) == (S.SCREENING, "已补充")


def test_withdraw_needs_the_confirmation(client, application, applicant):
    client.force_login(applicant)
    assert "withdraw" in client.get(url("withdraw", application.pk)).content.decode().lower()
    assert client.post(url("withdraw", application.pk), {"reason": "改投其他"}).status_code == 400
    application.refresh_from_db()
    assert application.status == S.DRAFT
    assert client.post(url("withdraw", application.pk), {"reason": "改投其他", "confirm": "on"}).status_code == 302
    application.refresh_from_db()
    assert application.status == S.WITHDRAWN
    assert client.post(url("withdraw", application.pk), {"confirm": "on"}).status_code == 400  # not twice


def test_co_applicants_are_members_of_the_organisation_only(client, application, applicant, startup, outsider):
    colleague = MembershipFactory(organisation=startup).user
    client.force_login(applicant)
    assert client.post(url("co_applicants", application.pk), {"co_applicants": [colleague.pk]}).status_code == 302
    assert set(application.co_applicants.all()) == {colleague}
    assert client.post(url("co_applicants", application.pk), {"co_applicants": [outsider.pk]}).status_code == 400
    assert set(application.co_applicants.all()) == {colleague}


def test_the_demo_loads_an_open_call_with_its_form_and_a_draft_once(db, client):
    list(accounts_demo.load())
    list(demo.load())
    list(demo.load())
    call = Call.objects.get()
    assert call.is_open() and call.form.versions.count() == 1 and call.criteria.count() == 3
    draft_ = Application.objects.get()
    assert (draft_.status, draft_.created_by.username) == (S.DRAFT, "startup")
    client.force_login(draft_.created_by)
    assert client.get(url("step", draft_.pk, 2)).status_code == 200
    # And a compute subsidy programme paying half of startups' metered scoring.
    [programme] = SubsidyProgramme.objects.all()
    assert (programme.share, programme.fund.kind, programme.eligible_kinds) == (
        Decimal("0.50"),
        "compute_subsidy",
        ["startup"],
    )

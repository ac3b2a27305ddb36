"""The scenario pages: what each visitor sees, what each button does, and what they are refused."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from hub.scenarios.models import Proposal, ProposalAttachment, Scenario
from hub.scenarios.services import proposal_save_draft, proposal_submit
from tests.factories import MembershipFactory, UserFactory
from tests.hub.scenarios.factories import ProposalFactory, ScenarioFactory
from tests.hub.scenarios.support import pdf, published

pytestmark = pytest.mark.django_db


def en(path: str) -> str:
    """The English page of a path (Chinese is at the root, English under /en/)."""
    return f"/en{path}"


def page(client: Client, url: str, **kwargs) -> str:
    """An English page's HTML, asserting it answered 200."""
    response = client.get(en(url), **kwargs)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def as_user(client: Client, user) -> Client:
    client.force_login(user)
    return client


# --- the public listing -----------------------------------------------------------------------
def test_the_listing_shows_published_scenarios_only(client, publisher):
    ScenarioFactory(title="公开的场景", organisation=publisher.organisation)
    ScenarioFactory(title="已结束的场景", status="closed")
    ScenarioFactory(title="草稿场景", draft=True, organisation=publisher.organisation)
    ScenarioFactory(title="撤回的场景", status="withdrawn")
    html = page(as_user(client, publisher.user), "/scenarios/")  # even the publisher sees no draft here
    assert "公开的场景" in html and "已结束的场景" in html
    assert "草稿场景" not in html and "撤回的场景" not in html


def test_the_listing_filters_by_sector_city_and_status(client):
    ScenarioFactory(title="合肥医疗", sector="healthcare", city="合肥市")
    ScenarioFactory(title="芜湖医疗", sector="healthcare", city="芜湖市", status="matching")
    ScenarioFactory(title="合肥农业", sector="agriculture", city="合肥市")
    html = page(client, "/scenarios/?sector=healthcare&city=合肥市")
    assert "合肥医疗" in html and "芜湖医疗" not in html and "合肥农业" not in html
    html = page(client, "/scenarios/?status=matching")
    assert "芜湖医疗" in html and "合肥医疗" not in html
    assert '<option value="芜湖市">芜湖市</option>' in html  # cities come from the scenarios


def test_an_unknown_filter_value_is_a_field_error_and_the_others_still_apply(client):
    ScenarioFactory(title="合肥医疗", sector="healthcare", city="合肥市")
    ScenarioFactory(title="合肥农业", sector="agriculture", city="合肥市")
    response = client.get(en("/scenarios/?sector=alchemy&city=合肥市&status=draft"))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"sector", "status"}
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and "合肥医疗" in html and "合肥农业" in html


def test_the_listing_pages_by_twenty_and_keeps_the_filters(client):
    for n in range(25):
        ScenarioFactory(title=f"农业场景{n:02d}", sector="agriculture")
    ScenarioFactory(title="医疗场景", sector="healthcare")
    first = client.get(en("/scenarios/?sector=agriculture"))
    assert len(first.context["page_obj"].object_list) == 20
    assert "?sector=agriculture&amp;page=2" in first.content.decode()
    second = client.get(en("/scenarios/?sector=agriculture&page=2"))
    assert len(second.context["page_obj"].object_list) == 5
    assert "医疗场景" not in second.content.decode()
    assert client.get("/scenarios/?page=abc").status_code == 200


def test_the_listing_says_when_there_is_nothing(client):
    assert "No scenario has been published yet" in page(client, "/scenarios/")
    ScenarioFactory(sector="healthcare")
    assert "No scenario matches these filters" in page(client, "/scenarios/?sector=agriculture")


def test_english_readers_get_the_english_title_when_there_is_one(client):
    ScenarioFactory(title="政务服务智能问答", title_en="Question answering for government services")
    ScenarioFactory(title="智慧农业病虫害识别", title_en="")
    english = page(client, "/scenarios/")
    assert "Question answering for government services" in english and "智慧农业病虫害识别" in english
    chinese = client.get("/scenarios/").content.decode()
    assert "政务服务智能问答" in chinese and "Question answering" not in chinese


# --- the detail page --------------------------------------------------------------------------
def test_anyone_reads_a_published_scenario_with_its_public_fields(client, publisher):
    scenario = ScenarioFactory(
        organisation=publisher.organisation, budget_min=300_000, budget_max=600_000, contact_phone="0563-3025678"
    )
    html = page(client, f"/scenarios/{scenario.pk}/")
    for text in (
        scenario.title,
        "宣城市科学技术局",
        "Healthcare",
        "合肥市",
        "300,000 yuan",
        "600,000 yuan",
        "0563-3025678",
    ):
        assert text in html
    assert scenario.deadline.isoformat() in html
    assert "Open for proposals" in html


@pytest.mark.parametrize("status", ["draft", "withdrawn"])
def test_a_draft_or_withdrawn_scenario_is_seen_by_its_organisation_and_staff_only(
    client, publisher, startup, staff, status
):
    scenario = ScenarioFactory(organisation=publisher.organisation, status=status, draft=status == "draft")
    url = f"/scenarios/{scenario.pk}/"
    assert client.get(url).status_code == 404
    assert as_user(Client(), startup.user).get(url).status_code == 404
    assert as_user(Client(), publisher.user).get(url).status_code == 200
    assert as_user(Client(), staff).get(url).status_code == 200
    assert client.get("/scenarios/999999/").status_code == 404


def test_the_send_a_proposal_button_is_for_startup_members_while_the_scenario_is_open(client, startup, outsider):
    scenario = ScenarioFactory()
    url = f"/scenarios/{scenario.pk}/"
    assert "Send a proposal" in page(as_user(Client(), startup.user), url)
    assert "Send a proposal" not in page(as_user(Client(), outsider.user), url)
    anonymous = page(client, url)
    assert "Send a proposal" not in anonymous and "/accounts/login/?next=" in anonymous
    Scenario.objects.filter(pk=scenario.pk).update(status="matching")
    assert "Send a proposal" not in page(as_user(Client(), startup.user), url)


# --- the publisher's desk ---------------------------------------------------------------------
def test_the_desk_needs_a_signed_in_user_and_shows_the_own_organisations_scenarios(client, publisher, outsider):
    assert client.get("/scenarios/manage/")["Location"].startswith("/accounts/login/")
    ScenarioFactory(title="我们的草稿", organisation=publisher.organisation, draft=True)
    ScenarioFactory(title="别人的草稿", organisation=outsider.organisation, draft=True)
    html = page(as_user(client, publisher.user), "/scenarios/manage/")
    assert "我们的草稿" in html and "别人的草稿" not in html


def test_saving_a_new_scenario_as_a_draft_goes_to_its_edit_form(client, publisher):
    response = as_user(client, publisher.user).post(
        "/scenarios/manage/new/",
        {"organisation": publisher.organisation.pk, "title": "智慧农业", "action": "draft"},
    )
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/scenarios/manage/{scenario.pk}/edit/"
    assert (scenario.status, scenario.created_by) == ("draft", publisher.user)


def test_the_scenario_form_shows_an_error_summary_linked_to_each_field(client, publisher):
    response = as_user(client, publisher.user).post(
        en("/scenarios/manage/new/"),
        {"organisation": publisher.organisation.pk, "title": "", "budget_min": "900", "budget_max": "100"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "budget_max"}
    html = response.content.decode()
    assert 'id="error-summary"' in html and 'href="#id_title"' in html and 'href="#id_budget_max"' in html
    assert 'aria-describedby="id_budget_max_helptext id_budget_max_error"' in html
    assert not Scenario.objects.exists()


def test_publishing_an_incomplete_scenario_keeps_the_draft_and_marks_what_is_missing(client, publisher):
    response = as_user(client, publisher.user).post(
        "/scenarios/manage/new/",
        {"organisation": publisher.organisation.pk, "title": "智慧农业", "city": "泾县", "action": "publish"},
    )
    assert response.status_code == 200
    scenario = Scenario.objects.get()
    assert scenario.status == "draft" and scenario.city == "泾县"
    assert {"description", "sector", "deadline", "contact_name", "contact_email"} <= set(
        response.context["form"].errors
    )
    assert f'action="/scenarios/manage/{scenario.pk}/edit/"' in response.content.decode()  # no second draft


def test_publishing_a_complete_scenario_from_the_form(client, publisher):
    deadline = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    response = as_user(client, publisher.user).post(
        "/scenarios/manage/new/",
        {
            "organisation": publisher.organisation.pk,
            "title": "智慧农业病虫害识别",
            "description": "拍照识别病虫害",
            "sector": "agriculture",
            "city": "泾县",
            "deadline": deadline,
            "contact_name": "郑站长",
            "contact_email": "zheng@example.cn",
            "action": "publish",
        },
    )
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/scenarios/{scenario.pk}/"
    assert scenario.status == "open" and len(published("scenarios.scenario.published.v1")) == 1


def test_only_members_of_an_organisation_open_the_new_scenario_form(client):
    assert as_user(client, UserFactory()).get("/scenarios/manage/new/").status_code == 403


def test_another_organisation_cannot_edit_or_act_on_a_scenario(client, publisher, outsider):
    public = ScenarioFactory(organisation=publisher.organisation)
    draft = ScenarioFactory(organisation=publisher.organisation, draft=True)
    client = as_user(client, outsider.user)
    assert client.get(f"/scenarios/manage/{public.pk}/edit/").status_code == 403
    assert client.get(f"/scenarios/manage/{draft.pk}/edit/").status_code == 404  # a draft is not even seen
    for action in ("publish", "withdraw", "status"):
        assert client.post(f"/scenarios/manage/{public.pk}/{action}/", {"status": "closed"}).status_code == 403
    assert client.get(f"/scenarios/manage/{public.pk}/proposals/").status_code == 403
    public.refresh_from_db()
    assert (public.status, public.revision) == ("open", 1)


def test_actions_are_posts_with_a_csrf_token(publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    client = as_user(Client(enforce_csrf_checks=True), publisher.user)
    assert client.get(f"/scenarios/manage/{scenario.pk}/withdraw/").status_code == 405
    assert client.post(f"/scenarios/manage/{scenario.pk}/withdraw/").status_code == 403
    scenario.refresh_from_db()
    assert scenario.status == "open"


def test_the_publisher_changes_the_status_and_withdraws(client, publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    client = as_user(client, publisher.user)
    html = page(client, "/scenarios/manage/")
    assert 'name="status" value="matching"' in html and 'name="status" value="awarded"' not in html
    client.post(f"/scenarios/manage/{scenario.pk}/status/", {"status": "matching"})
    response = client.post(en(f"/scenarios/manage/{scenario.pk}/status/"), {"status": "open"}, follow=True)
    assert "cannot become" in response.content.decode()
    client.post(f"/scenarios/manage/{scenario.pk}/withdraw/")
    scenario.refresh_from_db()
    assert (scenario.status, scenario.revision) == ("withdrawn", 3)


def test_editing_a_published_scenario_publishes_the_change(client, publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    client = as_user(client, publisher.user)
    html = page(client, f"/scenarios/manage/{scenario.pk}/edit/")
    assert "Save changes" in html and "data-autosave-url" not in html  # public changes are never autosaved
    data = {name: getattr(scenario, name) for name in ("title", "description", "sector", "contact_name")}
    data.update({"city": "芜湖市", "deadline": scenario.deadline.isoformat(), "contact_email": scenario.contact_email})
    response = client.post(f"/scenarios/manage/{scenario.pk}/edit/", {**data, "action": "save"})
    assert response.status_code == 302
    assert [(e["version"], e["city"]) for e in published("scenarios.scenario.updated.v1")] == [(2, "芜湖市")]


# --- autosave ---------------------------------------------------------------------------------
def test_autosave_creates_the_draft_once_then_updates_it(client, publisher):
    client = as_user(client, publisher.user)
    first = client.post(
        en("/scenarios/manage/new/autosave/"),
        {"organisation": publisher.organisation.pk, "title": "智慧农业"},
        headers={"Accept": "application/json"},
    )
    assert first.status_code == 200
    answer = first.json()
    scenario = Scenario.objects.get()
    assert answer["saved"] is True and answer["id"] == scenario.pk
    assert answer["message"] == f"Draft saved at {answer['saved_at']}"
    assert answer["edit_url"] == en(f"/scenarios/manage/{scenario.pk}/edit/")
    second = client.post(answer["autosave_url"], {"title": "智慧农业病虫害识别", "city": "泾县"})
    assert second.json()["saved"] is True
    scenario.refresh_from_db()
    assert (Scenario.objects.count(), scenario.title, scenario.city, scenario.status) == (
        1,
        "智慧农业病虫害识别",
        "泾县",
        "draft",
    )
    assert not published("scenarios.scenario.updated.v1")


def test_autosave_answers_field_errors_in_json_and_saves_nothing(client, publisher):
    response = as_user(client, publisher.user).post(
        en("/scenarios/manage/new/autosave/"),
        {"organisation": publisher.organisation.pk, "title": "x", "budget_min": "abc", "deadline": "2026-13-45"},
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["saved"] is False and set(answer["errors"]) == {"budget_min", "deadline"}
    assert answer["message"].startswith("Draft not saved")
    assert not Scenario.objects.exists()


def test_autosave_never_touches_a_published_scenario_or_someone_elses(client, publisher, outsider):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    response = as_user(client, publisher.user).post(f"/scenarios/manage/{scenario.pk}/autosave/", {"title": "改"})
    assert response.status_code == 409 and response.json()["saved"] is False
    draft = ScenarioFactory(organisation=publisher.organisation, draft=True, title="原标题")
    assert (
        as_user(Client(), outsider.user).post(f"/scenarios/manage/{draft.pk}/autosave/", {"title": "改"}).status_code
        == 404
    )
    assert Client().post(f"/scenarios/manage/{draft.pk}/autosave/", {"title": "改"}).status_code == 302
    draft.refresh_from_db()
    scenario.refresh_from_db()
    assert (draft.title, scenario.title) == ("原标题", scenario.title) and scenario.revision == 1


def test_the_draft_forms_load_the_autosave_script_with_an_aria_live_status(client, publisher, startup):
    html = page(as_user(client, publisher.user), "/scenarios/manage/new/")
    assert 'data-autosave-url="/en/scenarios/manage/new/autosave/"' in html
    assert 'id="autosave-status" role="status" aria-live="polite"' in html
    assert "scenarios/autosave.js" in html and 'value="draft"' in html
    html = page(as_user(Client(), startup.user), f"/scenarios/{ScenarioFactory().pk}/propose/")
    assert "propose/autosave/?organisation=" in html and "scenarios/autosave.js" in html


# --- proposals --------------------------------------------------------------------------------
def test_the_proposal_form_is_for_startup_members(client, startup, outsider, publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    url = f"/scenarios/{scenario.pk}/propose/"
    assert client.get(url)["Location"].startswith("/accounts/login/")
    assert as_user(Client(), outsider.user).get(url).status_code == 403
    assert as_user(Client(), publisher.user).get(url).status_code == 403
    assert as_user(Client(), startup.user).get(url).status_code == 200
    draft = ScenarioFactory(draft=True)
    assert as_user(Client(), startup.user).get(f"/scenarios/{draft.pk}/propose/").status_code == 404


def test_a_startup_sends_a_proposal_with_files_and_the_publisher_is_told(client, startup, publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    response = as_user(client, startup.user).post(
        f"/scenarios/{scenario.pk}/propose/",
        {
            "organisation": startup.organisation.pk,
            "summary": "大模型检索增强问答",
            "capabilities": "大模型，知识库、 检索增强",
            "price": "480000",
            "timeline": "三个月",
            "attachments": [pdf(), pdf("附件二.pdf")],
            "action": "submit",
        },
    )
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/scenarios/proposals/{proposal.pk}/"
    assert (proposal.status, proposal.capabilities, proposal.price) == (
        "submitted",
        ["大模型", "知识库", "检索增强"],
        480000,
    )
    assert sorted(proposal.attachments.values_list("original_name", flat=True)) == ["方案.pdf", "附件二.pdf"]
    assert published("scenarios.proposal.submitted.v1")[0]["recipients"] == [publisher.user.pk]


def test_a_bad_file_is_a_field_error_and_nothing_is_saved(client, startup):
    scenario = ScenarioFactory()
    response = as_user(client, startup.user).post(
        f"/scenarios/{scenario.pk}/propose/",
        {
            "organisation": startup.organisation.pk,
            "summary": "方案",
            "attachments": [pdf("病毒.exe")],
            "action": "draft",
        },
    )
    assert response.status_code == 200
    assert "attachments" in response.context["form"].errors
    assert 'href="#id_attachments"' in response.content.decode()
    assert not Proposal.objects.exists() and not ProposalAttachment.objects.exists()


def test_sending_an_incomplete_proposal_keeps_the_draft_and_marks_the_fields(client, startup):
    scenario = ScenarioFactory()
    response = as_user(client, startup.user).post(
        f"/scenarios/{scenario.pk}/propose/",
        {"organisation": startup.organisation.pk, "summary": "只有摘要", "action": "submit"},
    )
    assert response.status_code == 200
    assert {"capabilities", "timeline"} <= set(response.context["form"].errors)
    assert Proposal.objects.get().status == "draft"


def test_proposal_autosave_saves_the_draft_without_files_and_answers_json(client, startup):
    scenario = ScenarioFactory()
    url = en(f"/scenarios/{scenario.pk}/propose/autosave/?organisation={startup.organisation.pk}")
    client = as_user(client, startup.user)
    for summary in ("初稿", "第二稿"):
        response = client.post(
            url, {"organisation": startup.organisation.pk, "summary": summary, "attachments": [pdf()]}
        )
        assert response.status_code == 200 and response.json()["message"].startswith("Draft saved at ")
    proposal = Proposal.objects.get()
    assert (proposal.status, proposal.summary, proposal.attachments.count()) == ("draft", "第二稿", 0)
    assert not published("scenarios.proposal.submitted.v1")


def test_autosave_after_sending_is_refused(client, startup):
    proposal = ProposalFactory(organisation=startup.organisation)
    response = as_user(client, startup.user).post(
        f"/scenarios/{proposal.scenario_id}/propose/autosave/",
        {"organisation": startup.organisation.pk, "summary": "改"},
    )
    assert response.status_code == 409
    proposal.refresh_from_db()
    assert proposal.summary != "改"


def test_a_proposal_is_seen_by_its_startup_and_once_sent_by_the_publisher(client, startup, publisher, outsider, staff):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation, draft=True, summary="草稿内容")
    url = f"/scenarios/proposals/{proposal.pk}/"
    assert client.get(url)["Location"].startswith("/accounts/login/")
    assert "草稿内容" in page(as_user(Client(), startup.user), url)
    assert as_user(Client(), publisher.user).get(url).status_code == 404  # drafts stay with the startup
    Proposal.objects.filter(pk=proposal.pk).update(status="submitted", submitted_at=timezone.now())
    assert "草稿内容" in page(as_user(Client(), publisher.user), url)
    assert as_user(Client(), outsider.user).get(url).status_code == 404
    assert as_user(Client(), staff).get(url).status_code == 200


def test_attachments_are_downloaded_by_the_startup_and_the_publisher_only(client, startup, publisher, outsider):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    draft = proposal_save_draft(
        scenario=scenario,
        organisation=startup.organisation,
        by=startup.user,
        fields={"summary": "s", "capabilities": ["a"], "timeline": "t"},
        attachments=[pdf()],
    )
    proposal_submit(proposal=draft, by=startup.user)
    attachment = ProposalAttachment.objects.get()
    url = f"/scenarios/attachments/{attachment.pk}/"
    for user in (startup.user, publisher.user):
        response = as_user(Client(), user).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content).startswith(b"%PDF-")
        assert response["Content-Type"] == "application/pdf" and "attachment;" in response["Content-Disposition"]
        assert response["Cache-Control"] == "private, no-store"
    assert as_user(Client(), outsider.user).get(url).status_code == 404
    assert client.get(url).status_code == 302
    attachment.file.delete(save=False)
    assert as_user(Client(), startup.user).get(url).status_code == 404  # a lost file is a 404, not a 500


def test_the_publisher_decides_with_confirmed_post_buttons(client, publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    html = page(as_user(client, publisher.user), f"/scenarios/manage/{scenario.pk}/proposals/")
    assert f'action="/en/scenarios/proposals/{proposal.pk}/award/"' in html
    assert "marked awarded for everyone" in html  # what the button does is said before it is pressed
    assert as_user(Client(), startup.user).post(f"/scenarios/proposals/{proposal.pk}/award/").status_code == 403
    response = client.post(f"/scenarios/proposals/{proposal.pk}/award/")
    assert response.status_code == 302 and response["Location"] == f"/scenarios/manage/{scenario.pk}/proposals/"
    proposal.refresh_from_db()
    scenario.refresh_from_db()
    assert (proposal.status, scenario.status) == ("awarded", "awarded")


def test_a_refused_decision_is_a_message_not_an_error_page(client, publisher, startup):
    proposal = ProposalFactory(
        scenario=ScenarioFactory(organisation=publisher.organisation),
        organisation=startup.organisation,
        status="declined",
    )
    response = as_user(client, publisher.user).post(en(f"/scenarios/proposals/{proposal.pk}/award/"), follow=True)
    assert response.status_code == 200 and "cannot be" in response.content.decode()


def test_my_proposals_lists_my_organisations_proposals_and_withdraws(client, startup):
    mine = ProposalFactory(organisation=startup.organisation, scenario=ScenarioFactory(title="我们回应的场景"))
    ProposalFactory(scenario=ScenarioFactory(title="别人回应的场景"))
    client = as_user(client, startup.user)
    html = page(client, "/scenarios/proposals/")
    assert "我们回应的场景" in html and "别人回应的场景" not in html
    assert client.post(f"/scenarios/proposals/{mine.pk}/withdraw/").status_code == 302
    mine.refresh_from_db()
    assert mine.status == "withdrawn"


def test_a_colleague_in_the_same_startup_continues_the_draft(client, startup):
    scenario = ScenarioFactory()
    ProposalFactory(scenario=scenario, organisation=startup.organisation, draft=True, summary="同事写的初稿")
    colleague = MembershipFactory(organisation=startup.organisation, role="startup_member").user
    html = page(as_user(client, colleague), f"/scenarios/{scenario.pk}/propose/")
    assert "同事写的初稿" in html


def test_pages_render_in_both_languages(client, publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    urls = ["/scenarios/", f"/scenarios/{scenario.pk}/"]
    for language, prefix in (("zh-hans", ""), ("en", "/en")):
        for url in urls:
            response = client.get(prefix + url)
            assert response.status_code == 200 and f'<html lang="{language}"' in response.content.decode()
    client = as_user(client, publisher.user)
    for url in (
        "/scenarios/manage/",
        f"/scenarios/manage/{scenario.pk}/proposals/",
        f"/scenarios/proposals/{proposal.pk}/",
    ):
        assert client.get(url).status_code == client.get(en(url)).status_code == 200

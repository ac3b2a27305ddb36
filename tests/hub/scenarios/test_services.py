"""The scenario and proposal services: who may do what, when, and what each step leaves behind."""

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.events.models import OutboxEvent
from hub.events.topics import topic_name
from hub.scenarios.models import Proposal, ProposalAttachment, Scenario
from hub.scenarios.services import (
    MAX_ATTACHMENT_BYTES,
    AttachmentRefused,
    NotPermitted,
    ProposalRefused,
    ScenarioRefused,
    attachment_check,
    proposal_award,
    proposal_decline,
    proposal_save_draft,
    proposal_shortlist,
    proposal_submit,
    proposal_withdraw,
    scenario_create,
    scenario_publish,
    scenario_set_status,
    scenario_update,
    scenario_withdraw,
)
from tests.factories import MembershipFactory
from tests.hub.scenarios.factories import ProposalFactory, ScenarioFactory
from tests.hub.scenarios.support import office, pdf, plain_zip, png, published

pytestmark = pytest.mark.django_db

COMPLETE = {
    "title": "政务服务智能问答",
    "description": "热线咨询量大，希望用大模型辅助回答。",
    "sector": "government-services",
    "city": "宣城市",
    "deadline": timezone.localdate() + datetime.timedelta(days=20),
    "contact_name": "吴科长",
    "contact_email": "wu@example.cn",
}
PROPOSAL = {"summary": "大模型检索增强问答", "capabilities": ["大模型", "知识库"], "timeline": "三个月"}


OPENXML = "application/vnd.openxmlformats-officedocument"


def stored_files(settings) -> list[Path]:
    return [path for path in Path(settings.PRIVATE_MEDIA_ROOT).rglob("*") if path.is_file()]


def yesterday() -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=1)


# --- scenarios --------------------------------------------------------------------------------
def test_a_draft_needs_only_a_title_and_tells_nobody(publisher):
    draft = scenario_create(organisation=publisher.organisation, by=publisher.user, fields={"title": "智慧农业"})
    assert (draft.status, draft.revision, draft.published_at) == ("draft", 1, None)
    draft = scenario_update(scenario=draft, by=publisher.user, fields={"description": "病虫害识别"})
    assert draft.revision == 1  # drafts are not versions the public saw
    assert not OutboxEvent.objects.exists()
    with pytest.raises(ScenarioRefused) as refused:
        scenario_create(organisation=publisher.organisation, by=publisher.user, fields={"title": " "})
    assert "title" in refused.value.errors


def test_only_members_of_an_organisation_create_scenarios_for_it(publisher, startup):
    with pytest.raises(NotPermitted):
        scenario_create(organisation=publisher.organisation, by=startup.user, fields={"title": "冒名场景"})
    assert not Scenario.objects.exists()


def test_publishing_refuses_an_incomplete_draft_and_names_the_missing_fields(publisher):
    draft = scenario_create(organisation=publisher.organisation, by=publisher.user, fields={"title": "智慧农业"})
    with pytest.raises(ScenarioRefused) as refused:
        scenario_publish(scenario=draft, by=publisher.user)
    assert set(refused.value.errors) == {"description", "sector", "city", "deadline", "contact_name", "contact_email"}
    draft.refresh_from_db()
    assert draft.status == "draft" and not OutboxEvent.objects.exists()


def test_publishing_refuses_a_deadline_in_the_past(publisher):
    draft = scenario_create(
        organisation=publisher.organisation, by=publisher.user, fields={**COMPLETE, "deadline": yesterday()}
    )
    with pytest.raises(ScenarioRefused) as refused:
        scenario_publish(scenario=draft, by=publisher.user)
    assert list(refused.value.errors) == ["deadline"]


def test_a_budget_whose_lower_bound_exceeds_the_upper_is_refused_by_the_service_and_the_database(publisher):
    with pytest.raises(ScenarioRefused) as refused:
        scenario_create(
            organisation=publisher.organisation,
            by=publisher.user,
            fields={"title": "预算颠倒", "budget_min": 900_000, "budget_max": 100_000},
        )
    assert list(refused.value.errors) == ["budget_max"]
    scenario = ScenarioFactory(budget_min=100, budget_max=200)
    with pytest.raises(IntegrityError, match="scenario_budget_min_le_max"), transaction.atomic():
        Scenario.objects.filter(pk=scenario.pk).update(budget_min=300)


def test_an_unknown_sector_or_a_bad_email_is_a_field_error_even_in_a_draft(publisher):
    with pytest.raises(ScenarioRefused) as refused:
        scenario_create(
            organisation=publisher.organisation,
            by=publisher.user,
            fields={"title": "x", "sector": "alchemy", "contact_email": "not-an-email"},
        )
    assert set(refused.value.errors) == {"sector", "contact_email"}


def test_publishing_opens_the_scenario_as_version_one(publisher):
    draft = scenario_create(organisation=publisher.organisation, by=publisher.user, fields=COMPLETE)
    scenario = scenario_publish(scenario=draft, by=publisher.user)
    assert (scenario.status, scenario.revision) == ("open", 1)
    assert scenario.published_at is not None
    (event,) = published("scenarios.scenario.published.v1")
    assert (event["scenario_id"], event["version"], event["status"]) == (scenario.pk, 1, "open")
    with pytest.raises(ScenarioRefused, match="already"):
        scenario_publish(scenario=scenario, by=publisher.user)


def test_only_a_publisher_publishes_changes_or_withdraws(publisher, startup, outsider):
    draft = scenario_create(organisation=publisher.organisation, by=publisher.user, fields=COMPLETE)
    for stranger in (startup.user, outsider.user):
        with pytest.raises(NotPermitted):
            scenario_publish(scenario=draft, by=stranger)
    scenario = scenario_publish(scenario=draft, by=publisher.user)
    for action in (
        lambda by: scenario_update(scenario=scenario, by=by, fields={"city": "芜湖市"}),
        lambda by: scenario_set_status(scenario=scenario, by=by, status="matching"),
        lambda by: scenario_withdraw(scenario=scenario, by=by),
    ):
        with pytest.raises(NotPermitted):
            action(outsider.user)
    scenario.refresh_from_db()
    assert (scenario.status, scenario.city, scenario.revision) == ("open", "宣城市", 1)


def test_any_member_of_the_publishing_organisation_is_a_publisher(publisher):
    colleague = MembershipFactory(organisation=publisher.organisation, role="reviewer").user
    scenario = ScenarioFactory(organisation=publisher.organisation)
    assert scenario_set_status(scenario=scenario, by=colleague, status="matching").status == "matching"


def test_every_change_to_a_published_scenario_is_the_next_version(publisher):
    scenario = scenario_publish(
        scenario=scenario_create(organisation=publisher.organisation, by=publisher.user, fields=COMPLETE),
        by=publisher.user,
    )
    scenario = scenario_update(scenario=scenario, by=publisher.user, fields={"budget_max": 600_000})
    scenario = scenario_set_status(scenario=scenario, by=publisher.user, status="matching")
    scenario = scenario_set_status(scenario=scenario, by=publisher.user, status="closed")
    scenario = scenario_withdraw(scenario=scenario, by=publisher.user)
    assert scenario.revision == 5
    assert Scenario.objects.get(pk=scenario.pk).revision == 5
    updates = published("scenarios.scenario.updated.v1")
    assert [(e["version"], e["status"]) for e in updates] == [(2, "open"), (3, "matching"), (4, "closed")]
    assert updates[0]["budget_max"] == 600_000
    assert published("scenarios.scenario.withdrawn.v1") == [
        {"scenario_id": scenario.pk, "version": 5, "url": f"/scenarios/{scenario.pk}/"}
    ]


def test_saving_a_published_scenario_unchanged_is_not_a_new_version(publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    scenario_update(scenario=scenario, by=publisher.user, fields={"title": scenario.title, "city": scenario.city})
    scenario.refresh_from_db()
    assert scenario.revision == 1 and not OutboxEvent.objects.exists()


def test_a_published_scenario_stays_complete(publisher):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    with pytest.raises(ScenarioRefused) as refused:
        scenario_update(scenario=scenario, by=publisher.user, fields={"description": "", "deadline": yesterday()})
    assert set(refused.value.errors) == {"description", "deadline"}
    scenario.refresh_from_db()
    assert scenario.revision == 1 and scenario.description


@pytest.mark.parametrize(
    ("start", "wanted", "allowed"),
    [
        ("open", "matching", True),
        ("open", "closed", True),
        ("matching", "awarded", True),
        ("awarded", "closed", True),
        ("open", "awarded", False),
        ("matching", "open", False),
        ("closed", "open", False),
        ("draft", "open", False),  # publishing is scenario_publish's, with its checks
        ("withdrawn", "open", False),
        ("open", "nonsense", False),
    ],
)
def test_status_changes_follow_the_allowed_steps_only(publisher, start, wanted, allowed):
    scenario = ScenarioFactory(organisation=publisher.organisation, status=start)
    if allowed:
        assert scenario_set_status(scenario=scenario, by=publisher.user, status=wanted).status == wanted
        assert published("scenarios.scenario.updated.v1")[0]["version"] == 2
    else:
        with pytest.raises(ScenarioRefused):
            scenario_set_status(scenario=scenario, by=publisher.user, status=wanted)
        scenario.refresh_from_db()
        assert (scenario.status, scenario.revision) == (start, 1)
        assert not OutboxEvent.objects.exists()


def test_a_withdrawn_scenario_cannot_be_changed_or_withdrawn_again(publisher):
    scenario = scenario_withdraw(scenario=ScenarioFactory(organisation=publisher.organisation), by=publisher.user)
    with pytest.raises(ScenarioRefused):
        scenario_update(scenario=scenario, by=publisher.user, fields={"city": "芜湖市"})
    with pytest.raises(ScenarioRefused):
        scenario_withdraw(scenario=scenario, by=publisher.user)
    with pytest.raises(ScenarioRefused):
        scenario_withdraw(scenario=ScenarioFactory(organisation=publisher.organisation, draft=True), by=publisher.user)
    assert len(published("scenarios.scenario.withdrawn.v1")) == 1


# --- proposals --------------------------------------------------------------------------------
def test_a_startup_saves_one_draft_however_often_it_saves(startup):
    scenario = ScenarioFactory()
    first = proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields={})
    again = proposal_save_draft(
        scenario=scenario, organisation=startup.organisation, by=startup.user, fields={"summary": "方案摘要"}
    )
    assert first.pk == again.pk and Proposal.objects.get().summary == "方案摘要"
    assert not OutboxEvent.objects.exists()  # a draft is the startup's own business


def test_only_members_of_a_startup_send_proposals_for_it(startup, outsider, publisher):
    scenario = ScenarioFactory()
    with pytest.raises(NotPermitted):  # an enterprise is not a startup
        proposal_save_draft(scenario=scenario, organisation=outsider.organisation, by=outsider.user, fields={})
    with pytest.raises(NotPermitted):  # not a member of that startup
        proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=publisher.user, fields={})
    draft = ProposalFactory(scenario=scenario, organisation=startup.organisation, draft=True)
    with pytest.raises(NotPermitted):
        proposal_submit(proposal=draft, by=publisher.user)
    assert Proposal.objects.get().status == "draft"


def test_a_startup_cannot_answer_its_own_scenario(startup):
    scenario = ScenarioFactory(organisation=startup.organisation)
    with pytest.raises(ProposalRefused, match="own scenario"):
        proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL)


def test_sending_needs_a_complete_proposal(startup):
    draft = proposal_save_draft(
        scenario=ScenarioFactory(), organisation=startup.organisation, by=startup.user, fields={"summary": "只有摘要"}
    )
    with pytest.raises(ProposalRefused) as refused:
        proposal_submit(proposal=draft, by=startup.user)
    assert set(refused.value.errors) == {"capabilities", "timeline"}
    assert Proposal.objects.get().status == "draft"


def test_sending_tells_every_member_of_the_publishing_organisation(publisher, startup):
    colleague = MembershipFactory(organisation=publisher.organisation, role="admin").user
    scenario = ScenarioFactory(organisation=publisher.organisation, title="政务服务智能问答")
    draft = proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL)
    proposal = proposal_submit(proposal=draft, by=startup.user)
    assert (proposal.status, proposal.submitted_by) == ("submitted", startup.user)
    assert published("scenarios.proposal.submitted.v1") == [
        {
            "proposal_id": proposal.pk,
            "scenario_id": scenario.pk,
            "scenario_title": "政务服务智能问答",
            "organisation_id": startup.organisation.pk,
            "organisation_name": "星火智能科技",
            "url": f"/scenarios/proposals/{proposal.pk}/",
            "recipients": sorted([publisher.user.pk, colleague.pk]),
        }
    ]
    with pytest.raises(ProposalRefused, match="already been sent"):
        proposal_submit(proposal=proposal, by=startup.user)


def test_nothing_is_sent_after_the_deadline_day(startup):
    scenario = ScenarioFactory(deadline=timezone.localdate())
    draft = proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL)
    Scenario.objects.filter(pk=scenario.pk).update(deadline=yesterday())
    with pytest.raises(ProposalRefused, match="deadline"):
        proposal_submit(proposal=draft, by=startup.user)
    with pytest.raises(ProposalRefused, match="deadline"):
        proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields={})
    assert Proposal.objects.get().status == "draft"


@pytest.mark.parametrize("status", ["draft", "matching", "awarded", "closed", "withdrawn"])
def test_only_an_open_scenario_takes_proposals(startup, status):
    scenario = ScenarioFactory(status=status, published_at=None if status == "draft" else timezone.now())
    with pytest.raises(ProposalRefused, match="not taking proposals"):
        proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL)
    draft = ProposalFactory(scenario=scenario, organisation=startup.organisation, draft=True, **PROPOSAL)
    with pytest.raises(ProposalRefused, match="not taking proposals"):
        proposal_submit(proposal=draft, by=startup.user)


def test_one_live_proposal_per_startup_and_scenario(startup):
    scenario = ScenarioFactory()
    sent = proposal_submit(
        proposal=proposal_save_draft(
            scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL
        ),
        by=startup.user,
    )
    with pytest.raises(ProposalRefused, match="already sent"):
        proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL)
    with pytest.raises(IntegrityError, match="proposal_one_live_per_organisation"), transaction.atomic():
        ProposalFactory(scenario=scenario, organisation=startup.organisation, draft=True)
    # Once withdrawn, the startup may start again.
    proposal_withdraw(proposal=sent, by=startup.user)
    fresh = proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields={})
    assert fresh.pk != sent.pk and fresh.status == "draft"


def test_withdrawing_tells_the_publishers_only_what_they_had_received(publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    draft = proposal_save_draft(scenario=scenario, organisation=startup.organisation, by=startup.user, fields=PROPOSAL)
    proposal_withdraw(proposal=draft, by=startup.user)
    sent = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    with pytest.raises(NotPermitted):  # the publisher cannot withdraw the startup's proposal
        proposal_withdraw(proposal=sent, by=publisher.user)
    proposal_withdraw(proposal=sent, by=startup.user)
    assert [e["recipients"] for e in published("scenarios.proposal.withdrawn.v1")] == [[], [publisher.user.pk]]


def test_the_publisher_shortlists_and_declines_and_the_startup_is_told(publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    with pytest.raises(NotPermitted):
        proposal_shortlist(proposal=proposal, by=startup.user)
    assert proposal_shortlist(proposal=proposal, by=publisher.user).status == "shortlisted"
    with pytest.raises(ProposalRefused):
        proposal_shortlist(proposal=proposal, by=publisher.user)
    assert proposal_decline(proposal=proposal, by=publisher.user).status == "declined"
    with pytest.raises(ProposalRefused):
        proposal_withdraw(proposal=proposal, by=startup.user)  # decided: too late to withdraw
    assert published("scenarios.proposal.shortlisted.v1")[0]["recipients"] == [startup.user.pk]
    assert published("scenarios.proposal.declined.v1")[0]["recipients"] == [startup.user.pk]


def test_a_draft_proposal_cannot_be_decided(publisher, startup):
    proposal = ProposalFactory(
        scenario=ScenarioFactory(organisation=publisher.organisation), organisation=startup.organisation, draft=True
    )
    for decide in (proposal_shortlist, proposal_decline, proposal_award):
        with pytest.raises(ProposalRefused):
            decide(proposal=proposal, by=publisher.user)
    assert not OutboxEvent.objects.exists()


def test_awarding_marks_the_scenario_awarded_as_its_next_version(publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation, status="matching", revision=3)
    winner = ProposalFactory(scenario=scenario, organisation=startup.organisation, status="shortlisted")
    runner_up = ProposalFactory(scenario=scenario)
    with pytest.raises(NotPermitted):
        proposal_award(proposal=winner, by=startup.user)
    proposal_award(proposal=winner, by=publisher.user)
    scenario.refresh_from_db()
    assert (scenario.status, scenario.revision) == ("awarded", 4)
    (update,) = published("scenarios.scenario.updated.v1")
    assert (update["status"], update["version"]) == ("awarded", 4)
    assert published("scenarios.proposal.awarded.v1")[0]["recipients"] == [startup.user.pk]
    with pytest.raises(ProposalRefused, match=r"(?i)awarded"):  # one winner per scenario
        proposal_award(proposal=runner_up, by=publisher.user)
    assert proposal_decline(proposal=runner_up, by=publisher.user).status == "declined"


def test_events_of_a_scenario_and_its_proposals_share_its_key(publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    proposal_shortlist(proposal=proposal, by=publisher.user)
    proposal_award(proposal=proposal, by=publisher.user)
    scenario_set_status(scenario=scenario, by=publisher.user, status="closed")
    assert OutboxEvent.objects.count() == 4
    assert set(OutboxEvent.objects.values_list("key", "topic")) == {(str(scenario.pk), topic_name("scenarios"))}


# --- attachments ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("upload", "content_type"),
    [
        (pdf(), "application/pdf"),
        (png(), "image/png"),
        (
            office("报价.docx", "word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (office("预算.XLSX", "xl/workbook.xml"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (
            office("路演.pptx", "ppt/presentation.xml"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (plain_zip(), "application/zip"),
    ],
)
def test_allowed_files_are_stored_privately_with_their_original_name(startup, settings, upload, content_type):
    proposal = proposal_save_draft(
        scenario=ScenarioFactory(), organisation=startup.organisation, by=startup.user, fields={}, attachments=[upload]
    )
    attachment = proposal.attachments.get()
    assert (attachment.original_name, attachment.content_type) == (upload.name, content_type)
    stored = Path(attachment.file.path)
    assert stored.is_file() and stored.is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT))
    assert upload.name not in str(stored)  # the stored name is not guessable from the original
    with pytest.raises(ValueError, match="no public URL"):
        attachment.file.url  # noqa: B018


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (pdf("setup.exe"), "not an allowed type"),
        (pdf("没有扩展名"), "not an allowed type"),
        (png("伪装.pdf"), "not really a .pdf"),
        (pdf("伪装.png"), "not really a .png"),
        (plain_zip("伪装.docx"), "not really a .docx"),
        (office("错配.xlsx", "word/document.xml"), "not really a .xlsx"),
        (SimpleUploadedFile("空.jpg", b""), "not really a .jpg"),
        (pdf("太大.pdf", size=MAX_ATTACHMENT_BYTES + 1), "larger than 10 MiB"),
    ],
)
def test_files_of_the_wrong_type_or_size_are_refused_and_nothing_is_kept(startup, settings, upload, reason):
    with pytest.raises(AttachmentRefused, match=reason) as refused:
        attachment_check(upload)
    assert refused.value.errors["attachments"]
    with pytest.raises(AttachmentRefused):
        proposal_save_draft(
            scenario=ScenarioFactory(),
            organisation=startup.organisation,
            by=startup.user,
            fields={},
            attachments=[upload],
        )
    assert not Proposal.objects.exists() and not ProposalAttachment.objects.exists()
    assert stored_files(settings) == []


def test_a_refused_save_leaves_no_file_behind(startup, settings):
    scenario = ScenarioFactory()
    with pytest.raises(ProposalRefused):
        proposal_save_draft(
            scenario=scenario,
            organisation=startup.organisation,
            by=startup.user,
            fields={"capabilities": ["图像识别", "图像识别"]},  # duplicate tags: refused after the files were checked
            attachments=[pdf()],
        )
    assert not ProposalAttachment.objects.exists()
    assert stored_files(settings) == []


def test_removing_a_file_deletes_it_once_the_change_commits(startup, django_capture_on_commit_callbacks):
    scenario = ScenarioFactory()
    proposal = proposal_save_draft(
        scenario=scenario, organisation=startup.organisation, by=startup.user, fields={}, attachments=[pdf(), png()]
    )
    first = proposal.attachments.first()
    path = Path(first.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        proposal_save_draft(
            scenario=scenario,
            organisation=startup.organisation,
            by=startup.user,
            fields={},
            remove_attachments=[first.pk],
        )
    assert list(proposal.attachments.values_list("original_name", flat=True)) == ["架构图.png"]
    assert not path.exists()

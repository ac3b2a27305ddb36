"""The event contract of scenario calls (the search indexer and the notifier are written against it)."""

import datetime
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from jsonschema import Draft202012Validator

from hub.events.consumer import read_topic
from hub.events.models import OutboxEvent
from hub.events.registry import decode
from hub.events.topics import topic_name
from hub.notifications.kinds import KINDS
from hub.notifications.models import Notification
from hub.scenarios.services import (
    proposal_award,
    proposal_decline,
    proposal_save_draft,
    proposal_shortlist,
    proposal_submit,
    proposal_withdraw,
    scenario_publish,
    scenario_set_status,
    scenario_update,
    scenario_withdraw,
)
from hub.sectors import SECTORS
from services.relay.relay import Relay
from tests.factories import MembershipFactory
from tests.hub.scenarios.factories import ProposalFactory, ScenarioFactory
from tests.hub.scenarios.support import published
from tests.support import consumer, wait_for

SCHEMAS = Path(__file__).resolve().parents[3] / "hub" / "scenarios" / "schemas"
SNAPSHOT_FIELDS = [
    "scenario_id",
    "version",
    "title",
    "title_en",
    "description",
    "description_en",
    "organisation_id",
    "organisation_name",
    "sector",
    "city",
    "budget_min",
    "budget_max",
    "data_available",
    "deadline",
    "status",
    "url",
    "published_at",
    "updated_at",
]
PROPOSAL_FIELDS = [
    "proposal_id",
    "scenario_id",
    "scenario_title",
    "organisation_id",
    "organisation_name",
    "url",
    "recipients",
]
CONTRACT = {
    "scenarios.scenario.published.v1": SNAPSHOT_FIELDS,
    "scenarios.scenario.updated.v1": SNAPSHOT_FIELDS,
    "scenarios.scenario.withdrawn.v1": ["scenario_id", "version", "url"],
    **{
        f"scenarios.proposal.{fact}.v1": PROPOSAL_FIELDS
        for fact in ("submitted", "shortlisted", "declined", "awarded", "withdrawn")
    },
}


def schema(type_name: str) -> dict:
    return json.loads((SCHEMAS / f"{type_name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("type_name", sorted(CONTRACT))
def test_each_schema_requires_exactly_the_contracted_fields_and_nothing_else(type_name):
    document = schema(type_name)
    Draft202012Validator.check_schema(document)
    assert document["required"] == CONTRACT[type_name]
    assert list(document["properties"]) == CONTRACT[type_name]
    assert document["additionalProperties"] is False


def test_the_schema_lists_the_sectors_and_public_statuses():
    properties = schema("scenarios.scenario.published.v1")["properties"]
    assert properties["sector"]["enum"] == list(SECTORS)
    assert properties["status"]["enum"] == ["open", "matching", "awarded", "closed"]
    assert properties["budget_min"]["type"] == ["integer", "null"]
    assert schema("scenarios.scenario.updated.v1")["properties"] == properties


def assert_valid(type_name: str, data: dict) -> None:
    errors = list(Draft202012Validator(schema(type_name)).iter_errors(data))
    assert not errors, [error.message for error in errors]


@pytest.mark.django_db
def test_a_scenarios_life_publishes_valid_events_with_increasing_versions(publisher, startup):
    draft = ScenarioFactory(
        organisation=publisher.organisation,
        draft=True,
        title="工业互联网设备预测性维护",
        title_en="Predictive maintenance",
        budget_min=None,
        budget_max=1_200_000,
    )
    scenario = scenario_publish(scenario=draft, by=publisher.user)
    scenario = scenario_update(scenario=scenario, by=publisher.user, fields={"city": "芜湖市"})
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    proposal_award(proposal=proposal, by=publisher.user)
    scenario = scenario_set_status(scenario=scenario, by=publisher.user, status="closed")
    scenario_withdraw(scenario=scenario, by=publisher.user)

    first = published("scenarios.scenario.published.v1")
    updates = published("scenarios.scenario.updated.v1")
    (withdrawn,) = published("scenarios.scenario.withdrawn.v1")
    for type_name, data in [("scenarios.scenario.published.v1", e) for e in first] + [
        ("scenarios.scenario.updated.v1", e) for e in updates
    ]:
        assert_valid(type_name, data)
        assert list(data) == SNAPSHOT_FIELDS
        datetime.datetime.fromisoformat(data["published_at"])
        datetime.datetime.fromisoformat(data["updated_at"])
        assert datetime.date.fromisoformat(data["deadline"]) == scenario.deadline
    assert_valid("scenarios.scenario.withdrawn.v1", withdrawn)
    versions = [e["version"] for e in first + updates] + [withdrawn["version"]]
    assert versions == [1, 2, 3, 4, 5]
    assert [e["status"] for e in first + updates] == ["open", "open", "awarded", "closed"]
    assert first[0] | {"version": 0} != updates[0] | {"version": 0}  # the city changed
    assert (updates[0]["city"], updates[0]["budget_min"], updates[0]["budget_max"]) == ("芜湖市", None, 1_200_000)
    assert first[0]["organisation_name"] == "宣城市科学技术局"
    assert first[0]["url"] == withdrawn["url"] == f"/scenarios/{scenario.pk}/"


@pytest.mark.django_db
def test_every_proposal_event_is_valid_and_names_who_to_tell(publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation)
    second = MembershipFactory(organisation=startup.organisation, role="startup_member").user
    draft = proposal_save_draft(
        scenario=scenario,
        organisation=startup.organisation,
        by=startup.user,
        fields={"summary": "方案", "capabilities": ["视觉"], "timeline": "两个月"},
    )
    sent = proposal_submit(proposal=draft, by=startup.user)
    proposal_shortlist(proposal=sent, by=publisher.user)
    proposal_decline(proposal=sent, by=publisher.user)
    other = ProposalFactory(scenario=scenario)
    proposal_withdraw(proposal=other, by=MembershipFactory(organisation=other.organisation).user)
    publishers, startups = [publisher.user.pk], sorted([startup.user.pk, second.pk])
    expected = {
        "scenarios.proposal.submitted.v1": publishers,
        "scenarios.proposal.shortlisted.v1": startups,
        "scenarios.proposal.declined.v1": startups,
        "scenarios.proposal.withdrawn.v1": publishers,
    }
    for type_name, recipients in expected.items():
        (data,) = published(type_name)
        assert_valid(type_name, data)
        assert data["recipients"] == recipients, type_name
        assert data["scenario_id"] == scenario.pk
    assert published("scenarios.proposal.withdrawn.v1")[0]["organisation_id"] == other.organisation_id


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_notifier_tells_the_publishers_of_a_proposal_in_their_language(publisher, startup, language):
    publisher.user.language = language
    publisher.user.save()
    scenario = ScenarioFactory(organisation=publisher.organisation, title="政务服务智能问答")
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation, draft=True)
    with transaction.atomic():
        proposal_submit(proposal=proposal, by=startup.user)
    body = OutboxEvent.objects.get(type="scenarios.proposal.submitted.v1").body
    consumer("notifier").apply(body)
    notification = Notification.objects.get()
    assert notification.user == publisher.user and notification.kind == "scenarios.proposal.submitted"
    assert "政务服务智能问答" in notification.title and "星火智能科技" in notification.title
    path = f"{'/en' if language == 'en' else ''}/scenarios/proposals/{proposal.pk}/"  # the reader's language
    assert notification.url == path
    assert f"{settings.SITE_URL}{path}" in notification.body
    assert notification.email.to == publisher.user.email


@pytest.mark.parametrize("type_name", [name for name in CONTRACT if ".proposal." in name])
def test_every_proposal_event_has_a_notification_kind_that_renders(type_name):
    event = decode(
        type_name,
        {
            "proposal_id": 7,
            "scenario_id": 3,
            "scenario_title": "智" * 200,  # the longest title still fits a notification's title
            "organisation_id": 5,
            "organisation_name": "星火智能科技 & 合伙人",
            "url": "/scenarios/proposals/7/",
            "recipients": [1],
        },
    )
    message = KINDS[type_name].render(event)
    assert len(message.title) <= 200 and message.url == "/en/scenarios/proposals/7/"  # rendered in English (conftest)
    assert "星火智能科技 & 合伙人" in message.body  # plain text: not HTML-escaped


def test_scenario_and_proposal_events_reach_kafka_keyed_by_the_scenario(run_in_thread, kafka, publisher, startup):
    scenario = ScenarioFactory(organisation=publisher.organisation, draft=True)
    with transaction.atomic():
        scenario_publish(scenario=scenario, by=publisher.user)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    with transaction.atomic():
        proposal_shortlist(proposal=proposal, by=publisher.user)
    run_in_thread(Relay().run)
    wait_for(lambda: not OutboxEvent.objects.filter(sent_at__isnull=True).exists())
    records = read_topic(topic_name("scenarios"))
    types = [json.loads(record.value)["type"] for record in records]
    assert types == ["scenarios.scenario.published.v1", "scenarios.proposal.shortlisted.v1"]
    assert {record.key.decode() for record in records} == {str(scenario.pk)}

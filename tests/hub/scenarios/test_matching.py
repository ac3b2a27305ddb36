"""Matching in the scenarios context: the task stores and announces suggested startups, the pages show
them, and search being down costs suggestions, never a page. Real PostgreSQL and search server."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone, translation

from hub.accounts.models import Membership, Organisation, Role
from hub.accounts.services import organisation_update_profile
from hub.celery import app as celery_app
from hub.events.envelope import Envelope
from hub.events.models import OutboxEvent
from hub.events.registry import decode
from hub.notifications.kinds import KINDS
from hub.scenarios import services
from hub.scenarios.events import MatchSuggested
from hub.scenarios.models import MatchSuggestion, Scenario
from hub.scenarios.tasks import scenario_suggest_matches
from hub.search.indexing import documents_push, ensure_indices
from hub.search.matching import MatchingUnavailable
from hub.search.services import documents_apply
from services.indexer.mapping import active_mappers
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.hub.scenarios.support import published

pytestmark = pytest.mark.django_db

SUGGESTED = "scenarios.match.suggested.v1"
CLOSED_PORT = "http://127.0.0.1:9"


def index_outbox() -> None:
    """What the indexer would do with every event in the outbox so far: map, one gated upsert, a
    refreshed push (a search right after sees it)."""
    mappers = active_mappers()
    changes = []
    for body in OutboxEvent.objects.order_by("id").values_list("body", flat=True):
        envelope = Envelope.from_json(body)
        if envelope.type in mappers:
            changes += mappers[envelope.type](decode(envelope.type, envelope.data), envelope)
    with transaction.atomic():
        written = documents_apply(changes=changes)
    documents_push(documents=written, refresh=True)


@pytest.fixture
def indices(search_index, db) -> str:
    ensure_indices()
    return search_index


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def startup_with_profile(name: str, staff, **profile: Any) -> Organisation:
    """A startup with one member and the given profile, saved through the service (so it is published)."""
    organisation = OrganisationFactory(name=name, kind=Organisation.Kind.STARTUP)
    MembershipFactory(organisation=organisation, role=Role.STARTUP_MEMBER)
    return organisation_update_profile(organisation=organisation, by=staff, fields=profile)


@pytest.fixture
def startups(indices, staff) -> dict[str, Organisation]:
    return {
        "industrial": startup_with_profile(
            "工控智联科技",
            staff,
            description="工业互联网平台，设备预测性维护与工业视觉质检。",
            capabilities=["工业互联网", "预测性维护", "工业视觉"],
            sectors=["industrial-internet"],
        ),
        "medical": startup_with_profile(
            "星火医疗影像",
            staff,
            description="医学影像辅助诊断，肺结节筛查。",
            capabilities=["医学影像", "辅助诊断"],
            sectors=["healthcare"],
        ),
        "farming": startup_with_profile(
            "田园飞防",
            staff,
            description="农业无人机植保，病虫害识别。",
            capabilities=["植保无人机", "病虫害识别"],
            sectors=["agriculture"],
        ),
    }


def publish_scenario(publisher, **fields: Any) -> Scenario:
    """A scenario created and published through the services, as a publisher does it."""
    values = {
        "title": "工业互联网设备预测性维护",
        "description": "面向装备制造企业，基于人工智能实现设备故障预测，提供产线振动数据。",
        "sector": "industrial-internet",
        "city": "宣城市",
        "deadline": timezone.localdate() + datetime.timedelta(days=30),
        "contact_name": "周主任",
        "contact_email": "zhou@example.cn",
        **fields,
    }
    scenario = services.scenario_create(organisation=publisher.organisation, by=publisher.user, fields=values)
    return services.scenario_publish(scenario=scenario, by=publisher.user)


def members(organisation: Organisation) -> list[int]:
    return sorted(organisation.memberships.values_list("user_id", flat=True))


def suggested(scenario: Scenario) -> list[int]:
    return list(
        MatchSuggestion.objects.filter(scenario=scenario).order_by("rank").values_list("organisation_id", flat=True)
    )


def test_publishing_and_changing_a_scenario_queue_matching_once_committed(
    publisher, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        scenario = publish_scenario(publisher)
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        services.scenario_update(scenario=scenario, by=publisher.user, fields={"city": "合肥市"})
        services.scenario_update(scenario=scenario, by=publisher.user, fields={"city": "合肥市"})  # no change
    assert len(callbacks) == 1


def test_the_queued_task_stores_the_startups_that_fit_and_announces_them_once(
    publisher, startups, django_capture_on_commit_callbacks, settings
):
    index_outbox()
    celery_app.conf.task_always_eager = True  # the queued task runs here, on commit
    try:
        with django_capture_on_commit_callbacks(execute=True):
            scenario = publish_scenario(publisher)
    finally:
        celery_app.conf.task_always_eager = False
    industrial, medical, farming = startups["industrial"], startups["medical"], startups["farming"]
    assert suggested(scenario)[0] == industrial.pk and farming.pk not in suggested(scenario)
    (event,) = published(SUGGESTED)
    assert event["scenario_id"] == scenario.pk and event["url"] == f"/scenarios/{scenario.pk}/"
    assert [s["organisation_id"] for s in event["suggestions"]] == suggested(scenario)
    assert event["suggestions"][0]["organisation_name"] == "工控智联科技" and event["suggestions"][0]["score"] > 0
    told = Membership.objects.filter(organisation_id__in=suggested(scenario)).values_list("user_id", flat=True)
    assert event["recipients"] == sorted(set(told))
    assert medical.pk not in suggested(scenario)

    # The same list again: stored afresh, not announced again.
    assert scenario_suggest_matches(scenario.pk) == "unchanged"
    assert len(published(SUGGESTED)) == 1 and suggested(scenario)[0] == industrial.pk


def test_a_new_startup_that_fits_is_announced_and_only_its_members_are_told(publisher, startups, staff):
    index_outbox()
    scenario = publish_scenario(publisher)
    assert scenario_suggest_matches(scenario.pk) == "published"
    newcomer = startup_with_profile(
        "预测维护新锐", staff, capabilities=["预测性维护", "工业互联网"], sectors=["industrial-internet"]
    )
    index_outbox()
    assert scenario_suggest_matches(scenario.pk) == "published"
    _first, second = published(SUGGESTED)
    assert newcomer.pk in suggested(scenario)
    assert second["recipients"] == members(newcomer)  # the others were told the first time


def test_search_down_keeps_the_suggestions_and_the_task_asks_to_be_retried(publisher, startups, settings):
    index_outbox()
    scenario = publish_scenario(publisher)
    scenario_suggest_matches(scenario.pk)
    before = suggested(scenario)
    settings.ELASTICSEARCH_URL = CLOSED_PORT
    with pytest.raises(MatchingUnavailable):
        scenario_suggest_matches(scenario.pk)  # run by a worker, this is a retry later
    assert suggested(scenario) == before and len(published(SUGGESTED)) == 1


def test_only_open_scenarios_take_suggestions(publisher, startups):
    index_outbox()
    scenario = publish_scenario(publisher)
    services.scenario_set_status(scenario=scenario, by=publisher.user, status=Scenario.Status.CLOSED)
    assert scenario_suggest_matches(scenario.pk) == "skipped"
    assert scenario_suggest_matches(999_999) == "skipped"
    # A run that started while the scenario was open stores nothing once it has closed.
    assert not services.match_suggestions_replace(scenario=scenario, suggestions=[(startups["industrial"].pk, 1.0)])
    assert suggested(scenario) == [] and not published(SUGGESTED)


def test_the_suggestion_list_leaves_out_non_startups_and_the_publisher(publisher, startups):
    scenario = publish_scenario(publisher)
    enterprise = OrganisationFactory(kind=Organisation.Kind.ENTERPRISE)
    industrial = startups["industrial"]
    services.match_suggestions_replace(
        scenario=scenario,
        suggestions=[
            (enterprise.pk, 9.0),
            (publisher.organisation.pk, 8.0),
            (industrial.pk, 7.0),
            (industrial.pk, 1.0),
        ],
    )
    assert suggested(scenario) == [industrial.pk]
    assert MatchSuggestion.objects.get(scenario=scenario).score == 7.0


def test_the_startups_are_told_in_their_language_with_a_link_to_the_scenario(publisher, startups):
    scenario = publish_scenario(publisher)
    services.match_suggestions_replace(scenario=scenario, suggestions=[(startups["industrial"].pk, 3.5)])
    (data,) = published(SUGGESTED)
    event = decode(SUGGESTED, data)
    assert isinstance(event, MatchSuggested)
    kind = KINDS[SUGGESTED]
    with translation.override("en"):
        message = kind.render(event)
    assert message.url == f"/en/scenarios/{scenario.pk}/" and "工业互联网设备预测性维护" in message.title
    assert f"/en/scenarios/{scenario.pk}/" in message.body
    with translation.override("zh-hans"):
        assert kind.render(event).url == f"/scenarios/{scenario.pk}/"


# --- pages ------------------------------------------------------------------------------------
def test_the_publisher_sees_the_suggested_startups_linked_to_their_profiles(client, publisher, startups):
    scenario = publish_scenario(publisher)
    page_url = f"/scenarios/manage/{scenario.pk}/proposals/"
    client.force_login(publisher.user)
    empty = client.get(f"/en{page_url}").content.decode()  # texts in English: the Chinese ones are translators'
    assert "Suggested startups" in empty and "No startup fits this scenario yet" in empty
    industrial, medical = startups["industrial"], startups["medical"]
    services.match_suggestions_replace(scenario=scenario, suggestions=[(industrial.pk, 8.0), (medical.pk, 2.0)])
    page = client.get(page_url).content.decode()
    assert f'href="/accounts/organisations/{industrial.pk}/"' in page and "工控智联科技" in page
    assert page.index("工控智联科技") < page.index("星火医疗影像")
    assert 'style="width: 100%"' in page and 'style="width: 25%"' in page
    english = client.get(f"/en{page_url}").content.decode()
    assert f'href="/en/accounts/organisations/{industrial.pk}/"' in english


def test_a_startup_sees_the_open_scenarios_that_fit_it_on_its_proposals_page(client, publisher, startups):
    scenario = publish_scenario(publisher)
    publish_scenario(publisher, title="智慧农业病虫害识别", description="无人机巡田识别病虫害。", sector="agriculture")
    index_outbox()
    member = startups["industrial"].memberships.get().user
    client.force_login(member)
    page = client.get("/scenarios/proposals/").content.decode()
    assert "scenarios-for-you" in page and f'href="/scenarios/{scenario.pk}/"' in page
    assert "智慧农业病虫害识别" not in page
    assert f'href="/en/scenarios/{scenario.pk}/"' in client.get("/en/scenarios/proposals/").content.decode()


def test_a_startup_with_nothing_that_fits_is_invited_to_describe_itself(client, indices):
    startup = OrganisationFactory(kind=Organisation.Kind.STARTUP)
    client.force_login(MembershipFactory(organisation=startup, role=Role.ADMIN).user)
    page = client.get("/en/scenarios/proposals/").content.decode()
    assert "No open scenario fits your profile right now." in page
    assert f'href="/en/accounts/organisations/{startup.pk}/edit/"' in page


def test_with_search_down_both_pages_still_answer(client, publisher, startups, settings):
    scenario = publish_scenario(publisher)
    index_outbox()
    settings.ELASTICSEARCH_URL = CLOSED_PORT
    client.force_login(publisher.user)
    assert client.get(f"/scenarios/manage/{scenario.pk}/proposals/").status_code == 200
    client.force_login(startups["industrial"].memberships.get().user)
    response = client.get("/en/scenarios/proposals/")
    assert response.status_code == 200 and "No open scenario fits your profile right now." in response.content.decode()

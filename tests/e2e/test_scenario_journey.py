"""The scenario journey across contexts, in a browser, with the relay and the indexer running:
the public finds a scenario by search and a sector filter, a startup answers it, the publisher shortlists."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.accounts.models import Organisation, Role
from hub.scenarios.models import Proposal
from hub.scenarios.services import scenario_publish
from hub.search.queries import search
from services import indexer
from services.relay.relay import Relay
from tests.factories import MembershipFactory, OrganisationFactory
from tests.hub.cms import pages
from tests.hub.scenarios.factories import ScenarioFactory
from tests.support import wait_for


@pytest.fixture
def site(search_index, run_in_thread, live_server_url: str) -> str:
    """The English site, its server on this test's indices, with events flowing into search."""
    run_in_thread(Relay().run)
    run_in_thread(indexer.run)
    return f"{live_server_url}/en"


def sign_in(browser: Browser, site: str, username: str) -> Page:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("correct horse battery")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))
    return page


def test_the_public_finds_a_scenario_a_startup_answers_and_the_publisher_shortlists(browser, site):
    pages.home()
    bureau = OrganisationFactory(name="宣城市卫生健康委员会", kind=Organisation.Kind.GOVERNMENT)
    publisher = MembershipFactory(organisation=bureau, role=Role.EDITOR).user
    startup = MembershipFactory(
        organisation=OrganisationFactory(name="星火智能科技", kind=Organisation.Kind.STARTUP), role=Role.STARTUP_MEMBER
    ).user
    wanted = ScenarioFactory(
        draft=True,
        organisation=bureau,
        title="智慧医疗影像辅助诊断",
        title_en="AI-assisted medical imaging",
        sector="healthcare",
        description="在基层医院部署影像辅助诊断。",
    )
    other = ScenarioFactory(draft=True, organisation=bureau, title="智慧医疗药品追溯", sector="procurement")
    for scenario in (wanted, other):
        scenario_publish(scenario=scenario, by=publisher)
    # Searchable once the index refreshes (Elasticsearch is near real time, not instant).
    wait_for(lambda: search(query="", kind="scenarios", filters={}, sort="date", page=1).total == 2, timeout=30)

    # The public: a Chinese query finds both; the healthcare sector leaves one; it opens.
    public = browser.new_context(locale="en-GB").new_page()
    public.goto(f"{site}/")
    public.get_by_role("searchbox", name="Search the site").fill("智慧医疗")
    public.get_by_role("searchbox", name="Search the site").press("Enter")
    results = public.locator("ol.search-hits > li")
    expect(results).to_have_count(2)
    public.get_by_role("checkbox", name=re.compile(r"^Healthcare")).check()
    public.get_by_role("button", name="Apply").click()
    expect(results).to_have_count(1)
    results.first.get_by_role("link").click()
    expect(public).to_have_url(f"{site}/scenarios/{wanted.pk}/")
    expect(public.get_by_role("heading", level=1)).to_contain_text("AI-assisted medical imaging")
    public.context.close()

    # A startup sends a proposal from the scenario's page.
    page = sign_in(browser, site, startup.username)
    page.goto(f"{site}/scenarios/{wanted.pk}/")
    page.get_by_role("link", name="Send a proposal").click()
    page.locator("#id_summary").fill("基于大模型的影像辅助诊断，可在基层医院私有化部署。")
    page.locator("#id_capabilities").fill("医学影像，私有化部署")
    page.locator("#id_timeline").fill("三个月")
    page.get_by_role("button", name="Send proposal").click()
    expect(page.locator(".messages")).to_contain_text("Your proposal is sent")
    page.context.close()

    # The publisher shortlists it from the scenario's proposals.
    page = sign_in(browser, site, publisher.username)
    page.goto(f"{site}/scenarios/manage/{wanted.pk}/proposals/")
    page.locator("details.confirm-shortlist summary").first.click()
    page.get_by_role("button", name="Confirm: Shortlist").click()
    expect(page.locator(".messages")).to_be_visible()
    assert Proposal.objects.get(scenario=wanted).status == "shortlisted"
    page.context.close()

"""The scenario pages in a real browser: autosave, keyboard use, axe, and 2× text on a 320px screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.scenarios.models import Proposal, Scenario
from tests.e2e.conftest import browser, live_server_url  # noqa: F401  (fixtures)
from tests.e2e.test_accessibility import BLOCKING, violations
from tests.hub.scenarios.factories import ProposalFactory, ScenarioFactory
from tests.support import wait_for

SAVED = re.compile(r"\d{2}:\d{2}")
# The elements that stick out of the window, for the failure message.
WIDEST = """() => [...document.querySelectorAll('main *')]
    .filter(el => el.getBoundingClientRect().right > innerWidth + 1)
    .slice(-3).map(el => el.outerHTML.slice(0, 80))"""
MAIN_WIDTH = "(() => { const main = document.querySelector('main'); return [main.scrollWidth, main.clientWidth]; })()"


@pytest.fixture
def site(live_server_url: str) -> str:  # noqa: F811
    """The English site (Chinese is at the root): the tests find controls by their English names."""
    return f"{live_server_url}/en"


def sign_in(browser: Browser, site: str, username: str, **context: object) -> Page:  # noqa: F811
    page = browser.new_context(locale="en-GB", **context).new_page()
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("correct horse battery")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))  # LOGIN_REDIRECT_URL
    return page


def test_the_scenario_form_saves_itself_as_one_draft_while_typing(browser, site, publisher):  # noqa: F811
    page = sign_in(browser, site, publisher.user.username)
    page.goto(f"{site}/scenarios/manage/new/")
    page.locator("#id_title").fill("智慧农业")
    status = page.locator("#autosave-status")
    expect(status).to_have_text(re.compile(r"^Draft saved at \d{2}:\d{2}$"), timeout=10_000)
    scenario = Scenario.objects.get()
    expect(page).to_have_url(f"{site}/scenarios/manage/{scenario.pk}/edit/")  # a reload edits this draft
    page.locator("#id_city").fill("泾县")
    page.locator("#id_title").fill("智慧农业病虫害识别")
    wait_for(lambda: Scenario.objects.filter(title="智慧农业病虫害识别", city="泾县").exists(), timeout=15)
    assert list(Scenario.objects.values_list("pk", "status")) == [(scenario.pk, "draft")]
    # The button without script does the same, with the full form posted.
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".messages")).to_contain_text("Draft saved")
    page.context.close()


def test_a_proposal_is_drafted_by_autosave_and_sent_from_the_keyboard(browser, site, publisher, startup):  # noqa: F811
    scenario = ScenarioFactory(organisation=publisher.organisation)
    page = sign_in(browser, site, startup.user.username)
    page.goto(f"{site}/scenarios/{scenario.pk}/")
    page.get_by_role("link", name="Send a proposal").click()
    page.locator("#id_summary").fill("基于大模型的检索增强问答")
    expect(page.locator("#autosave-status")).to_have_text(SAVED, timeout=10_000)
    assert Proposal.objects.get().status == "draft"
    page.locator("#id_capabilities").fill("大模型，知识库")
    page.locator("#id_timeline").fill("三个月")
    page.get_by_role("button", name="Send proposal").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Your proposal is sent")
    assert Proposal.objects.get().status == "submitted"
    page.context.close()


def test_a_form_with_errors_focuses_its_summary_whose_links_lead_to_the_fields(browser, site, publisher):  # noqa: F811
    page = sign_in(browser, site, publisher.user.username)
    page.goto(f"{site}/scenarios/manage/new/")
    page.locator("#id_budget_min").fill("900")
    page.locator("#id_budget_max").fill("100")
    page.get_by_role("button", name="Publish").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile("Budget up to")).click()
    expect(page.locator("#id_budget_max")).to_be_focused()
    page.context.close()


def test_the_publisher_awards_through_a_confirmation_opened_by_keyboard(browser, site, publisher, startup):  # noqa: F811
    scenario = ScenarioFactory(organisation=publisher.organisation)
    proposal = ProposalFactory(scenario=scenario, organisation=startup.organisation)
    page = sign_in(browser, site, publisher.user.username)
    page.goto(f"{site}/scenarios/manage/{scenario.pk}/proposals/")
    award = page.locator("details.confirm-award > summary")
    award.focus()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("button", name=re.compile("Confirm: Award"))
    expect(confirm).to_be_visible()
    expect(page.locator("details.confirm-award")).to_contain_text("marked awarded for everyone")
    confirm.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("awarded")
    proposal.refresh_from_db()
    assert proposal.status == "awarded"
    page.context.close()


def test_axe_finds_nothing_serious_and_2x_text_fits_320px(browser, site, publisher, startup):  # noqa: F811
    scenario = ScenarioFactory(
        organisation=publisher.organisation, title_en="Question answering", budget_min=1, budget_max=2
    )
    ProposalFactory(scenario=scenario, organisation=startup.organisation)
    ScenarioFactory(organisation=publisher.organisation, draft=True)
    public = ["/scenarios/", f"/scenarios/{scenario.pk}/", "/scenarios/?sector=alchemy"]
    publisher_pages = ["/scenarios/manage/", "/scenarios/manage/new/", f"/scenarios/manage/{scenario.pk}/proposals/"]
    startup_pages = ["/scenarios/proposals/", f"/scenarios/{ScenarioFactory().pk}/propose/"]
    problems: list[str] = []
    for cookie in ("", "scheme:dark|zoom:200|elder:1"):
        for username, paths in (
            (None, public),
            (publisher.user.username, publisher_pages),
            (startup.user.username, startup_pages),
        ):
            options = {"viewport": {"width": 320, "height": 640}} if cookie else {}
            if username:
                page = sign_in(browser, site, username, **options)
            else:
                page = browser.new_context(locale="en-GB", **options).new_page()
            if cookie:
                page.context.add_cookies([{"name": "wanzhi_display", "value": cookie, "url": site.removesuffix("/en")}])
            for path in paths:
                page.goto(site + path)
                page.evaluate("document.querySelectorAll('main details').forEach(d => d.open = true)")
                problems += [line for line in violations(page) if any(f"({i})" in line for i in BLOCKING)]
                if cookie:
                    # The main content only: the site header is base.html's (and tested with it).
                    wide, window = page.evaluate(MAIN_WIDTH)
                    if wide > window:
                        problems.append(f"{path}: main is {wide}px wide in {window}px: {page.evaluate(WIDEST)}")
            page.context.close()
    assert not problems, "\n".join(problems)

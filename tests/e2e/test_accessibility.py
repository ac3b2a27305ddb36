"""Accessibility in a real browser (GB/T 37668, built on WCAG 2.1, and the elder-friendly rules):
axe finds nothing serious in any colour scheme, with or without elder mode; the display toolbar
works from the keyboard and without script; 2× text fits a 320px-wide screen.

Screenshots of every scheme, with and without elder mode, go to var/test-artifacts/accessibility/.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import BrowserContext, Page, expect

from competitions.models import Baseline
from hub.cms.display import COOKIE_NAME, SCHEMES
from hub.cms.models import (
    AnnouncementIndexPage,
    AnnouncementPage,
    HomePage,
    NewsArticlePage,
    NewsIndexPage,
    PolicyDocumentPage,
    PolicyLibraryPage,
    StandardPage,
)
from tests.competitions.factories import CompetitionFactory, PhaseFactory, SubmissionFactory, TeamFactory
from tests.competitions.support import score
from tests.factories import UserFactory
from tests.hub.cms import pages

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "accessibility"
ACCOUNT_PAGES = ["/accounts/login/", "/accounts/signup/"]
SIGNED_IN_PAGES = ["/notifications/"]
BLOCKING = ("serious", "critical")
axe = Axe()


@pytest.fixture
def site(live_server_url: str) -> str:
    """The live server with the demo portal (home, policy library with the action plan, news,
    announcements, a standard page), so every page type is there to check."""
    pages.demo_portal()
    return live_server_url


def portal_pages() -> list[str]:
    """One page of every portal type, as a path."""
    kinds = [
        HomePage,
        PolicyLibraryPage,
        PolicyDocumentPage,
        NewsIndexPage,
        NewsArticlePage,
        AnnouncementIndexPage,
        AnnouncementPage,
        StandardPage,
    ]
    return [kind.objects.live().first().url for kind in kinds] + ["/en/"]


def competition_pages(entrant) -> tuple[list[str], list[str]]:
    """A running competition with a scored team and a baseline: its public pages, and the entrant's."""
    competition = CompetitionFactory(status="running")
    phase = PhaseFactory(competition=competition, hidden_labels=False)
    submission = SubmissionFactory(phase=phase, team=TeamFactory(competition=competition, members=[entrant]))
    score(submission, public=0.8, ci=(0.7, 0.9))
    Baseline.objects.create(phase=phase, name="随机猜测", scores={"public": {"accuracy": 0.1}})
    base = f"/competitions/{competition.slug}"
    return (
        ["/competitions/", f"{base}/", f"{base}/leaderboard/"],
        [f"{base}/submit/", f"{base}/submissions/", f"{base}/submissions/{submission.pk}/", f"{base}/team/"],
    )


def choose(context: BrowserContext, site: str, value: str) -> None:
    """Set the display cookie as the /display/ endpoint would."""
    context.add_cookies([{"name": COOKIE_NAME, "value": value, "url": site}])


def violations(page: Page) -> list[str]:
    """Every axe violation on the page, one line each: page, display classes, rule, impact, where."""
    return [
        f"{page.url.split('/', 3)[3]} [{page.locator('html').get_attribute('class') or ''}] {v['id']} "
        f"({v['impact']}): " + "; ".join(", ".join(node["target"]) for node in v["nodes"])
        for v in axe.run(page).response["violations"]
    ]


def small_targets(page: Page) -> list[str]:
    """Visible controls under 60×60 CSS px (the elder-friendly minimum).

    Check boxes and radio buttons are left out: their labels are part of what one clicks.
    """
    return page.evaluate(
        """() => [...document.querySelectorAll(
                'button, select, summary, nav a, .brand, input:not([type=hidden], [type=checkbox], [type=radio])')]
            .filter(el => el.offsetParent !== null)
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([, box]) => box.width < 59.5 || box.height < 59.5)
            .map(([el, box]) => `${el.outerHTML.slice(0, 60)} ${Math.round(box.width)}×${Math.round(box.height)}`)"""
    )


def sign_in(page: Page, site: str, username: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("correct horse battery")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{site}/")


def open_toolbar(page: Page) -> None:
    page.evaluate("document.querySelector('details.a11y').open = true")


def test_axe_finds_no_serious_problem_in_any_scheme_with_or_without_elder_mode(browser, site):
    public_competition, own_competition = competition_pages(UserFactory(username="wangfang"))
    anonymous = browser.new_context(locale="zh-CN").new_page()
    signed_in = browser.new_context(locale="zh-CN").new_page()
    sign_in(signed_in, site, "wangfang")
    anonymous_pages = portal_pages() + ACCOUNT_PAGES + public_competition
    signed_in_pages = SIGNED_IN_PAGES + own_competition
    visits = [(anonymous, path) for path in anonymous_pages] + [(signed_in, path) for path in signed_in_pages]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report: list[str] = []  # every impact, kept as an artifact for review
    problems: list[str] = []
    for scheme, elder in itertools.product(SCHEMES, (False, True)):
        for page, path in visits:
            choose(page.context, site, f"scheme:{scheme}" + ("|elder:1" if elder else ""))
            page.goto(site + path)
            open_toolbar(page)  # so its controls are checked too
            found = violations(page)
            report += found
            problems += [line for line in found if any(f"({impact})" in line for impact in BLOCKING)]
            if elder:
                problems += [f"{path} {scheme} elder: small target {target}" for target in small_targets(page)]
            if path == "/":
                page.screenshot(path=str(ARTIFACTS / f"home-{scheme}{'-elder' if elder else ''}.png"), full_page=True)
    anonymous.context.close()
    signed_in.context.close()
    (ARTIFACTS / "axe-violations.txt").write_text("".join(line + "\n" for line in report))
    assert not problems, "\n".join(problems)


def focused(page: Page) -> dict:
    return page.evaluate(
        """() => { const el = document.activeElement; const style = getComputedStyle(el);
            return {id: el.id, tag: el.tagName, name: el.getAttribute('name') || '', value: el.value || '',
                    href: el.getAttribute('href') || '', inToolbar: !!el.closest('#display-tools'),
                    language: el.closest('nav.lang') ? el.getAttribute('hreflang') : '',
                    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 3}; }"""
    )


def tab_through_header(page: Page) -> list[dict]:
    """Tab from the top of the page to the main content, opening the toolbar with Enter on the way."""
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stop = focused(page)
        if stop["tag"] == "SUMMARY" and page.locator("details.a11y[open]").count() == 0:
            page.keyboard.press("Enter")
        stops.append(stop)
        if stop["language"] == "en":  # the last link of the header
            break
    return stops


def test_the_toolbar_language_switcher_and_nav_are_reached_and_worked_by_keyboard(browser, site):
    page = browser.new_page(locale="zh-CN")
    page.goto(site + "/")
    stops = tab_through_header(page)

    controls = page.locator("#display-tools button:visible")
    expected = [(b.get_attribute("name") or "", b.get_attribute("value") or "") for b in controls.all()]
    assert len(expected) >= 12  # 3 sizes, 5 schemes, elder, cursor, guide, reset (and read-aloud where speech is)
    assert [(s["name"], s["value"]) for s in stops if s["inToolbar"]] == expected
    assert {"/", "/accounts/login/", "/accounts/signup/"} <= {s["href"] for s in stops}
    assert [s["language"] for s in stops if s["language"]] == ["zh-hans", "en"]
    assert all(s["ring"] for s in stops), f"a focus ring is missing: {[s for s in stops if not s['ring']]}"

    # Space, then Enter, on scheme buttons: the page changes at once and keeps focus on the button.
    dark = page.locator('button[name="scheme"][value="dark"]')
    dark.focus()
    page.keyboard.press("Space")
    expect(page.locator("html")).to_have_class("scheme-dark")
    expect(dark).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_class("scheme-yellow-on-blue")
    assert focused(page)["value"] == "yellow-on-blue"
    expect(dark).to_have_attribute("aria-pressed", "false")

    # The choice was saved through the cookie: the next page is right on first paint.
    page.wait_for_load_state("networkidle")
    page.goto(site + "/")
    expect(page.locator("html")).to_have_class("scheme-yellow-on-blue")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens the toolbar; Escape closes it again
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    expect(page.locator("details.a11y")).not_to_have_attribute("open", "")
    assert focused(page)["tag"] == "SUMMARY"
    page.close()


def test_twice_the_text_fits_a_320px_wide_screen(browser, site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    public_competition, _ = competition_pages(UserFactory())
    for locale in ("zh-CN", "en-GB"):
        context = browser.new_context(viewport={"width": 320, "height": 640}, locale=locale)
        page = context.new_page()
        page.goto(site + "/accounts/signup/")
        open_toolbar(page)
        larger = page.locator('button[name="zoom"][value="in"]')
        for _ in range(5):
            larger.click()
        expect(page.locator("html")).to_have_class("zoom-200")
        expect(page.locator("#a11y-zoom-level")).to_have_text("200%")
        assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "32px"
        for cookie in ("zoom:200", "zoom:200|elder:1"):
            choose(context, site, cookie)
            for path in portal_pages() + ACCOUNT_PAGES + public_competition:
                page.goto(site + path)
                open_toolbar(page)
                width = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
                assert width[0] <= width[1], f"{locale} {path} {cookie}: {width[0]}px wide in a {width[1]}px window"
        page.screenshot(path=str(ARTIFACTS / f"signup-320px-2x-elder-{locale}.png"), full_page=True)
        context.close()


def test_the_toolbar_works_without_script(browser, site):
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    page.goto(site + "/accounts/login/?next=/notifications/")
    page.locator("details.a11y > summary").click()
    expect(page.locator("#a11y-read-aloud")).to_be_hidden()  # read-aloud and the guide need script
    expect(page.locator('button[name="guide"]')).to_be_hidden()
    page.locator('button[name="scheme"][value="yellow-on-black"]').click()
    expect(page).to_have_url(f"{site}/accounts/login/?next=/notifications/#display-tools")
    expect(page.locator("html")).to_have_class("scheme-yellow-on-black")
    # Landing on #display-tools opens the toolbar again, so the next choice is one press away.
    expect(page.locator("details.a11y")).to_have_attribute("open", "")
    page.locator('button[name="elder"]').click()
    expect(page.locator("html")).to_have_class("scheme-yellow-on-black elder")
    context.close()


def test_the_reading_guide_follows_the_pointer(browser, site):
    page = browser.new_page(locale="zh-CN")
    page.goto(site + "/")
    open_toolbar(page)
    page.locator('button[name="guide"]').click()
    expect(page.locator("html")).to_have_class("guide")
    page.mouse.move(100, 300)
    expect(page.locator(".reading-guide")).to_have_attribute("style", "transform: translateY(312px);")
    page.locator('button[name="guide"]').click()
    expect(page.locator(".reading-guide")).to_have_count(0)
    page.close()


def test_read_aloud_speaks_the_selection_or_the_main_content_in_the_page_language(browser, site):
    page = browser.new_page(locale="zh-CN")
    page.goto(site + "/")
    if not page.evaluate("'speechSynthesis' in window"):
        expect(page.locator("#a11y-read-aloud")).to_be_hidden()
        return
    # Record what would be spoken: the test machine has no voices to hear.
    page.evaluate("() => { window.spoken = []; speechSynthesis.speak = (u) => spoken.push([u.text, u.lang]); }")
    open_toolbar(page)
    read_aloud = page.get_by_role("button", name="Read aloud").or_(page.get_by_role("button", name="朗读"))
    read_aloud.click()
    spoken = page.evaluate("spoken")
    assert ["皖智汇 · 通用人工智能开放平台", "zh-CN"] in spoken
    assert ["汇聚算力、数据、场景与资金，服务全省通用人工智能创新发展。", "zh-CN"] in spoken
    assert {lang for _text, lang in spoken} == {"zh-CN"}

    page.evaluate("""() => { spoken.length = 0; const range = document.createRange();
        range.selectNodeContents(document.querySelector('main h1')); getSelection().addRange(range); }""")
    read_aloud.click()
    assert page.evaluate("spoken") == [["皖智汇 · 通用人工智能开放平台", "zh-CN"]]
    page.close()

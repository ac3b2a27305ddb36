"""A signed-in page learns of a new notification live: service → outbox → relay → Kafka →
notifier → Redis channel layer → websocket → the badge in a real browser."""

from django.db import transaction
from playwright.sync_api import expect

from hub.accounts.services import membership_grant
from services.relay.relay import Relay
from tests.factories import OrganisationFactory, UserFactory
from tests.support import consumer


def test_the_notification_badge_counts_a_new_notification_without_a_reload(
    browser, live_server_url, run_in_thread, kafka
):
    user = UserFactory(username="lilei", language="zh-hans")
    run_in_thread(Relay().run)
    run_in_thread(consumer("notifier").run)

    page = browser.new_page(locale="zh-CN")
    page.goto(f"{live_server_url}/notifications/")  # sends us to sign in first
    page.get_by_label("用户名").fill("lilei")
    page.get_by_label("密码").fill("correct horse battery")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{live_server_url}/notifications/")
    expect(page.locator("#unread-badge")).to_have_text("")
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.endsWith('live.js'))")
    page.wait_for_timeout(500)  # the websocket opens right after live.js runs

    with transaction.atomic():
        membership_grant(user=user, organisation=OrganisationFactory(name="皖江人工智能孵化器"), role="reviewer")

    expect(page.locator("#unread-badge")).to_have_text("1", timeout=20_000)
    page.reload()
    expect(page.get_by_text("您已成为皖江人工智能孵化器的评审专家")).to_be_visible()
    page.close()

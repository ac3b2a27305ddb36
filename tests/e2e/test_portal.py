"""A reader opens the action plan from the home page, follows its table of contents and switches language."""

from django.conf import settings
from playwright.sync_api import expect

from tests.hub.cms import pages

ARTIFACTS = settings.BASE_DIR / "var" / "test-artifacts" / "portal"


def test_a_reader_reads_the_action_plan_by_its_table_of_contents_and_switches_language(browser, live_server_url):
    pages.demo_portal()
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{live_server_url}/")
    page.get_by_role("link", name="安徽省通用人工智能创新发展三年行动计划(2023—2025年)").first.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("安徽省通用人工智能创新发展三年行动计划(2023—2025年)")
    for label, value in [
        ("索引号", "113417000032449839/202310-00033"),
        ("发布机构", "宣城市科学技术局"),
        ("组配分类", "上级文件"),
        ("主题分类", "科技、教育"),
        ("发布日期", "2023-10-27"),
    ]:
        expect(page.locator("table.disclosure")).to_contain_text(label)
        expect(page.locator("table.disclosure")).to_contain_text(value)

    toc = page.get_by_role("navigation", name="目录")
    toc.get_by_role("link", name="四、保障措施").click()
    assert page.evaluate("decodeURIComponent(location.hash)") == "#h-四保障措施"
    heading = page.get_by_role("heading", name="四、保障措施")
    expect(heading).to_be_in_viewport()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "action-plan-toc.png"))

    page.get_by_role("navigation", name="语言").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Anhui Three-Year Action Plan for General AI Innovation (2023–2025)"
    )
    expect(page.get_by_role("navigation", name="Contents")).to_be_visible()
    page.get_by_role("navigation", name="Language").get_by_role("link", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.context.close()

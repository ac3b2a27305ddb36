"""A startup applies to a fund in a browser: starts from the call, an answer is autosaved and survives a
reload, a show-if question appears, the budget table totals itself, a file is attached, and after the
check the application is submitted and the receipt shown; axe finds nothing serious on the way."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from funds.models import Application, Attachment, Call
from hub.accounts.models import Organisation, Role
from tests.factories import MembershipFactory, OrganisationFactory
from tests.funds.factories import CallFactory, CriterionFactory
from tests.funds.test_forms_builder import BASIC, published_form


def serious_violations(page: Page) -> list[str]:
    """axe's serious and critical findings on the page: rule and where."""
    return [
        f"{v['id']}: " + "; ".join(", ".join(node["target"]) for node in v["nodes"])
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def site(request, service_env, tmp_path) -> str:
    """The English site, its server keeping private files in this test's directory."""
    service_env["PRIVATE_MEDIA_ROOT"] = str(tmp_path / "private")
    return f"{request.getfixturevalue('live_server_url')}/en"


def test_a_startup_applies_through_the_multi_step_form_with_autosave_and_gets_a_receipt(browser: Browser, site):
    form = published_form(BASIC)
    call = CallFactory(title_en="General AI startups 2026", eligible_kinds=["startup"], form=form)
    CriterionFactory(call=call)
    startup = OrganisationFactory(name="星火智能科技", kind=Organisation.Kind.STARTUP)
    user = MembershipFactory(organisation=startup, role=Role.STARTUP_MEMBER).user

    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill("correct horse battery")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))

    # From the open calls to the call, then start.
    page.goto(f"{site}/funds/")
    page.get_by_role("link", name="General AI startups 2026").click()
    page.get_by_label("Project title").fill("工业视觉质检大模型")
    page.get_by_label("Amount requested (CNY)").fill("300000")
    page.get_by_role("button", name="Start application").click()
    application = Application.objects.get(call=call)
    expect(page).to_have_url(f"{site}/funds/applications/{application.pk}/step/1/")

    # An answer is autosaved (no button pressed) and is there after a reload.
    page.get_by_label("项目简介").fill("面向制造业的视觉质检")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved", timeout=10_000)
    page.reload()
    expect(page.get_by_label("项目简介")).to_have_value("面向制造业的视觉质检")

    # The customers question shows only for a product on the market.
    customers = page.get_by_label("已有客户")
    expect(customers).to_be_hidden()
    page.get_by_label("团队人数").fill("12")
    page.get_by_label("产品").check()
    expect(customers).to_be_visible()
    customers.fill("三家汽车零部件工厂")
    page.get_by_role("button", name="Next").click()

    # Step 2: the budget table totals itself; a file; the declaration.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Step 2 of 2")
    page.get_by_label("科目 1").fill("算力")
    page.get_by_label("金额 1").fill("100000")
    page.get_by_label("科目 2").fill("人员")
    page.get_by_label("金额 2").fill("50000.50")
    expect(page.locator("output[data-total=amount]")).to_have_text("150000.50")
    page.get_by_label("商业计划书").set_input_files(
        files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 plan"}]
    )
    page.get_by_label("所填信息真实").check()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Save and check").click()

    # The check finds nothing missing; submit; the receipt.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check and submit")
    expect(page.get_by_text("Every required question is answered.")).to_be_visible()
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Application receipt")
    expect(page.locator("#receipt-reference")).to_have_text(f"WZF-{call.pk:04d}-{application.pk:06d}")
    assert serious_violations(page) == []
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert application.answers["budget"]["totals"] == {"amount": "150000.50"}
    assert application.answers["customers"] == "三家汽车零部件工厂"
    assert Attachment.objects.get(application=application).original_name == "plan.pdf"
    assert Call.objects.get(pk=call.pk).form_version == 1

"""Issue #5's acceptance, in a browser through the real pages.

A startup applies to a fund: starts from the call, an answer is autosaved and survives a reload, a
show-if question appears, the budget table totals itself, a file is attached, and after the check the
application is submitted and the receipt shown. Then a manager screens it, sends it to review and has
reviewers assigned, two reviewers score it on the rubric, the manager sees the mean and spread and
approves it with an amount and a reason, and the applicant reads the decision. axe finds nothing serious
or critical on the pages each of them works on.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from funds.models import Application, Attachment, Call
from hub.accounts.models import Organisation, Role, User
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.funds.factories import CallFactory, CriterionFactory, FundFactory, PoolReviewerFactory
from tests.funds.test_forms_builder import BASIC, published_form

CALL_TITLE = "General AI startups 2026"


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


def log_in(browser: Browser, site: str, user: User) -> Page:
    """A page in a browser context of its own (its own session cookie), signed in as `user`."""
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill("correct horse battery")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))
    return page


def applicant_signed_in(browser: Browser, site: str) -> Page:
    """A member of a startup, signed in."""
    startup = OrganisationFactory(name="星火智能科技", kind=Organisation.Kind.STARTUP)
    return log_in(browser, site, MembershipFactory(organisation=startup, role=Role.STARTUP_MEMBER).user)


def apply_and_submit(page: Page, site: str, call: Call) -> Application:
    """The applicant's part, from the open calls to the receipt, on a call titled CALL_TITLE with the
    BASIC form, checking each page on the way (axe on the form's last step and the receipt)."""
    # From the open calls to the call, then start.
    page.goto(f"{site}/funds/")
    page.get_by_role("link", name=CALL_TITLE).click()
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
    return application


def test_a_startup_applies_through_the_multi_step_form_with_autosave_and_gets_a_receipt(browser: Browser, site):
    call = CallFactory(title_en=CALL_TITLE, eligible_kinds=["startup"], form=published_form(BASIC))
    CriterionFactory(call=call)

    application = apply_and_submit(applicant_signed_in(browser, site), site, call)

    assert application.status == Application.Status.SUBMITTED
    assert application.answers["budget"]["totals"] == {"amount": "150000.50"}
    assert application.answers["customers"] == "三家汽车零部件工厂"
    assert Attachment.objects.get(application=application).original_name == "plan.pdf"
    assert Call.objects.get(pk=call.pk).form_version == 1


def test_a_manager_assigns_two_reviewers_score_the_manager_approves_and_the_applicant_sees_it(browser: Browser, site):
    manager = UserFactory(display_name="基金经理")
    call = CallFactory(
        title_en=CALL_TITLE,
        eligible_kinds=["startup"],
        form=published_form(BASIC),
        fund=FundFactory(managers=[manager]),
    )
    CriterionFactory(call=call, title="创新性", title_en="Innovation", weight=Decimal("2"), max_score=10)
    CriterionFactory(call=call, title="可行性", title_en="Feasibility", weight=Decimal("1"), max_score=5)
    reviewers = [PoolReviewerFactory(call=call).reviewer for _ in range(2)]
    applicant = applicant_signed_in(browser, site)
    application = apply_and_submit(applicant, site, call)
    heading = f"#{application.pk} {application.title}"

    # The manager finds it on the call's dashboard, screens it and sends it to review.
    desk = log_in(browser, site, manager)
    desk.goto(f"{site}/funds/manage/")
    desk.get_by_role("link", name=re.compile(r"^Dashboard")).click()
    desk.get_by_role("link", name=heading).click()
    desk.get_by_role("button", name="Take into screening").click()
    expect(desk.get_by_text("Taken into screening.")).to_be_visible()
    desk.get_by_role("button", name="Send to review").click()
    expect(desk.get_by_text("Sent to review.")).to_be_visible()

    # Reviewers are assigned from the pool automatically, on the dashboard.
    desk.get_by_role("link", name=re.compile(r"^Dashboard: ")).click()
    desk.get_by_label("Action").select_option(label="Assign reviewers automatically")
    desk.get_by_role("button", name="Carry out").click()
    expect(desk.get_by_text("2 reviewers assigned.")).to_be_visible()
    expect(desk.locator(f"#application-{application.pk}")).to_contain_text("0 / 2")

    # Each reviewer, signed in on their own, scores every criterion with a comment: totals 80 and 60.
    for reviewer, (innovation, feasibility, total) in zip(
        reviewers, [("8", "4", "80.00"), ("6", "3", "60.00")], strict=True
    ):
        review = log_in(browser, site, reviewer)
        review.goto(f"{site}/funds/manage/reviews/")
        review.get_by_role("link", name=heading).click()
        review.get_by_label("Innovation").fill(innovation)
        review.get_by_label("Feasibility").fill(feasibility)
        review.get_by_label("Comment").fill(f"{reviewer.username}: 技术路线清晰。")
        if reviewer == reviewers[0]:
            assert serious_violations(review) == []
        review.get_by_role("button", name="Submit the review").click()
        expect(review.get_by_text("Your review is submitted.")).to_be_visible()
        expect(review.get_by_text(f"Your review: {total} of 100.")).to_be_visible()
        review.context.close()

    # The manager sees both scores, their mean and spread, closes the review and approves.
    desk.reload()
    expect(desk.locator(f"#application-{application.pk}")).to_contain_text("2 / 2")
    desk.get_by_role("link", name=heading).click()
    expect(desk.get_by_text("2 reviews; mean 70.00, spread 10.00.")).to_be_visible()
    reviewed = desk.get_by_role("region", name="Reviewers")
    expect(reviewed).to_contain_text("80.00")
    expect(reviewed).to_contain_text("60.00")
    desk.get_by_role("button", name="Close the review").click()
    approve = desk.get_by_role("region", name="Approve")
    approve.get_by_label("Approved amount (CNY)").fill("250000")
    approve.get_by_label("Reason").fill("评审均分70分，批准首期二十五万元。")
    assert serious_violations(desk) == []
    approve.get_by_role("button", name="Approve").click()
    expect(desk.get_by_text("Approved; the amount is committed against the budget.")).to_be_visible()

    # The applicant's own page shows the decision, the amount and the reason.
    applicant.goto(f"{site}/funds/applications/{application.pk}/")
    expect(applicant.locator(".meta .status")).to_have_text("Approved")
    expect(applicant.locator("dl.facts")).to_contain_text("¥250000.00")
    expect(applicant.locator(".timeline")).to_contain_text("评审均分70分，批准首期二十五万元。")
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert application.approved_amount == Decimal("250000.00")

"""Demo funds: an angel fund of the demo fund organisation, an open call with a published three-step form
(a budget table, a show-if), a rubric and a reviewer pool, and a draft of the demo startup. Made through
the services after hub.accounts' demo; a second load changes nothing."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from funds import services
from funds.credit.models import SubsidyProgramme
from funds.models import ApplicationForm, Call, Fund
from hub.accounts.models import Organisation, User

FUND_NAME = "安徽省通用人工智能天使基金"
FORM_NAME = "通用人工智能创业项目申请表"
CALL_TITLE = "2026年度通用人工智能初创企业天使投资项目征集"
SUBSIDY_NAME = "安徽省算力券补贴计划"


def _question(kind: str, name: str, label: str, label_en: str, **extra: object) -> tuple[str, dict]:
    return kind, {"name": name, "label": label, "label_en": label_en, "required": True, **extra}


QUESTIONS = [
    ("section", {"title": "项目概况", "title_en": "The project"}),
    _question("long_text", "summary", "项目简介", "Project summary", max_length=2000),
    _question("number", "team_size", "团队人数", "Team size", min_value="1", max_value="1000"),
    _question(
        "choice",
        "stage",
        "项目阶段",
        "Stage",
        choices=[
            {"value": "prototype", "label": "原型", "label_en": "Prototype"},
            {"value": "product", "label": "已有产品", "label_en": "Product on the market"},
        ],
    ),
    _question(
        "long_text",
        "customers",
        "已有客户及收入情况",
        "Customers and revenue",
        show_if_field="stage",
        show_if_value="product",
    ),
    ("section", {"title": "预算", "title_en": "Budget"}),
    _question(
        "table",
        "budget",
        "经费预算表",
        "Budget",
        rows=5,
        columns=[
            {"name": "item", "label": "科目", "label_en": "Item"},
            {"name": "amount", "label": "金额（元）", "label_en": "Amount (CNY)", "numeric": True},
        ],
    ),
    _question("money", "own_funds", "自筹资金（元）", "Own funds (CNY)", required=False, min_value="0"),
    ("section", {"title": "材料与声明", "title_en": "Documents and declaration"}),
    _question("file", "business_plan", "商业计划书", "Business plan", file_types=".pdf,.docx", max_size_mb=10),
    _question("declaration", "truthful", "本单位承诺所填信息真实有效", "We declare the information given is true"),
]


def load() -> Iterator[str]:
    if Fund.objects.filter(name=FUND_NAME).exists():
        yield f"  funds: {FUND_NAME} (already loaded)"
        return
    manager = User.objects.get(username="manager")
    reviewer = User.objects.get(username="reviewer")
    startup_user = User.objects.get(username="startup")
    with transaction.atomic():
        fund = Fund.objects.create(
            name=FUND_NAME,
            name_en="Anhui General AI Angel Fund",
            kind=Fund.Kind.ANGEL,
            managing_organisation=Organisation.objects.get(kind=Organisation.Kind.FUND, memberships__user=manager),
            total_budget=Decimal("50000000.00"),
        )
        fund.managers.add(manager)
        form = ApplicationForm(name=FORM_NAME, name_en="General AI startup application", fields=QUESTIONS, live=False)
        form.save()
        form.save_revision().publish()  # freezes version 1 (funds.wagtail_hooks)
        now = timezone.now()
        call = services.call_create(
            fund=fund,
            by=manager,
            fields={
                "title": CALL_TITLE,
                "title_en": "General AI startups: angel investment 2026",
                "description": "支持省内通用人工智能初创企业开展大模型、具身智能和行业应用研发。",
                "description_en": "Angel investment for general-AI startups in the province.",
                "opens_at": now - datetime.timedelta(days=1),
                "closes_at": now + datetime.timedelta(days=90),
                "eligible_kinds": [Organisation.Kind.STARTUP],
                "budget_envelope": Decimal("10000000.00"),
                "form": form,
            },
        )
        services.call_set_rubric(
            call=call,
            by=manager,
            criteria=[
                {"title": "技术创新性", "title_en": "Innovation", "weight": "2", "max_score": 10},
                {"title": "团队能力", "title_en": "Team", "weight": "1", "max_score": 10},
                {"title": "市场前景", "title_en": "Market", "weight": "1", "max_score": 10},
            ],
        )
        services.call_set_pool(call=call, by=manager, reviewers={reviewer: ["大模型", "工业视觉"]})
        services.call_publish(call=call, by=manager)
        startup = Organisation.objects.get(kind=Organisation.Kind.STARTUP, memberships__user=startup_user)
        services.application_create(
            call=Call.objects.get(pk=call.pk),
            organisation=startup,
            by=startup_user,
            title="面向基层医院的医学影像辅助诊断大模型",
            requested_amount="800000",
            answers={
                "summary": "基于自研医学影像大模型，为县级医院提供肺结节与眼底病变辅助诊断。",
                "stage": "prototype",
            },
        )
        subsidy = Fund.objects.create(
            name=SUBSIDY_NAME,
            name_en="Anhui compute voucher programme",
            kind=Fund.Kind.COMPUTE_SUBSIDY,
            managing_organisation=fund.managing_organisation,
            total_budget=Decimal("2000000.00"),
        )
        subsidy.managers.add(manager)
        SubsidyProgramme.objects.create(
            fund=subsidy,
            share=Decimal("0.50"),
            starts_at=now - datetime.timedelta(days=1),
            ends_at=now + datetime.timedelta(days=365),
            eligible_kinds=[Organisation.Kind.STARTUP],
        )
    yield f"  funds: {FUND_NAME} · {CALL_TITLE} (open, form v1) · a draft of {startup.name}"
    yield f"  compute subsidy: {SUBSIDY_NAME} pays half of startups' metered scoring"

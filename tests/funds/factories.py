"""Factories for funds: rows as the services would leave them, made directly."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from funds.models import Application, Call, Fund, PoolReviewer, RubricCriterion
from hub.accounts.models import Organisation
from tests.factories import OrganisationFactory, UserFactory


class FundFactory(factory.django.DjangoModelFactory):
    """An angel fund of ten million yuan; `FundFactory(managers=[user])` makes them its managers."""

    class Meta:
        model = Fund
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"安徽省人工智能天使基金{n}期")
    name_en = "Anhui AI angel fund"
    kind = Fund.Kind.ANGEL
    managing_organisation = factory.SubFactory(OrganisationFactory, kind=Organisation.Kind.FUND)
    total_budget = Decimal("10000000.00")

    @factory.post_generation
    def managers(fund, create, extracted, **kwargs):
        if extracted:
            fund.managers.set(extracted)


class CallFactory(factory.django.DjangoModelFactory):
    """A published call open since yesterday for a month, five million yuan, two reviewers per
    application; `CallFactory(draft=True)` for a draft."""

    class Meta:
        model = Call

    class Params:
        draft = factory.Trait(status=Call.Status.DRAFT, published_at=None)

    fund = factory.SubFactory(FundFactory)
    title = factory.Sequence(lambda n: f"2026年度通用人工智能创业项目征集{n}")
    title_en = "General AI startup projects 2026"
    description = "支持通用人工智能初创企业。"
    status = Call.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)
    opens_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))
    budget_envelope = Decimal("5000000.00")
    reviewers_per_application = 2


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RubricCriterion

    call = factory.SubFactory(CallFactory)
    position = factory.Sequence(int)
    title = "创新性"
    title_en = "Innovation"
    weight = Decimal("1.00")
    max_score = 10


class PoolReviewerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolReviewer

    call = factory.SubFactory(CallFactory)
    reviewer = factory.SubFactory(UserFactory)
    expertise = factory.LazyFunction(list)


class ApplicationFactory(factory.django.DjangoModelFactory):
    """A draft asking for 500,000 yuan; pass `status=` (and what that status needs) for a later one."""

    class Meta:
        model = Application

    call = factory.SubFactory(CallFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    created_by = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"工业视觉质检大模型{n}")
    form_version = 1
    answers = factory.LazyFunction(lambda: {"summary": "面向制造业的视觉质检。"})
    requested_amount = Decimal("500000.00")
    status = Application.Status.DRAFT
    submitted_at = factory.LazyAttribute(lambda a: None if a.status == Application.Status.DRAFT else timezone.now())

"""Factories of compute credit: subsidy programmes (their fund is a compute subsidy fund)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from funds.credit.models import SubsidyProgramme
from funds.models import Fund
from tests.funds.factories import FundFactory


class SubsidyProgrammeFactory(factory.django.DjangoModelFactory):
    """Half of every job's cost, from a month ago for a year, out of a ¥1,000 compute subsidy fund."""

    class Meta:
        model = SubsidyProgramme

    fund = factory.SubFactory(
        FundFactory,
        kind=Fund.Kind.COMPUTE_SUBSIDY,
        name=factory.Sequence(lambda n: f"算力补贴计划{n}期"),
        total_budget=Decimal("1000.00"),
    )
    share = Decimal("0.50")
    starts_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=30))
    ends_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=335))

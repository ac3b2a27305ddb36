"""Factories for scenarios and proposals: rows as the services would leave them, made directly."""

import datetime

import factory
from django.utils import timezone

from hub.accounts.models import Organisation
from hub.scenarios.models import Proposal, Scenario
from tests.factories import OrganisationFactory


class ScenarioFactory(factory.django.DjangoModelFactory):
    """A published, open scenario; `ScenarioFactory(draft=True)` for a draft."""

    class Meta:
        model = Scenario

    class Params:
        draft = factory.Trait(status=Scenario.Status.DRAFT, published_at=None)

    title = factory.Sequence(lambda n: f"智慧场景{n}")
    description = "希望引入人工智能提升效率。"
    organisation = factory.SubFactory(OrganisationFactory, kind=Organisation.Kind.GOVERNMENT)
    sector = "healthcare"
    city = "合肥市"
    data_available = "脱敏数据"
    deadline = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))
    status = Scenario.Status.OPEN
    contact_name = "周主任"
    contact_email = "zhou@example.cn"
    published_at = factory.LazyFunction(timezone.now)


class ProposalFactory(factory.django.DjangoModelFactory):
    """A submitted proposal from a startup; `ProposalFactory(draft=True)` for a draft."""

    class Meta:
        model = Proposal

    class Params:
        draft = factory.Trait(status=Proposal.Status.DRAFT, submitted_at=None)

    scenario = factory.SubFactory(ScenarioFactory)
    organisation = factory.SubFactory(OrganisationFactory, kind=Organisation.Kind.STARTUP)
    summary = "基于深度学习的方案"
    capabilities = factory.LazyFunction(lambda: ["图像识别", "边缘部署"])
    timeline = "三个月"
    status = Proposal.Status.SUBMITTED
    submitted_at = factory.LazyFunction(timezone.now)

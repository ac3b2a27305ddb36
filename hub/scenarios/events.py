"""Events the scenarios context publishes (topic `scenarios`, key = the scenario's id for every type).

The search indexer, webhooks and the notifier are written against these payloads; each type's
JSON Schema sits in schemas/. Drafts publish nothing: they are private to their organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.utils import translation

from hub.events.registry import Event, event_type

if TYPE_CHECKING:
    from hub.scenarios.models import Proposal, ProposalAttachment, Scenario


def canonical_path(obj: Scenario | Proposal | ProposalAttachment) -> str:
    """The object's path in the site's default language (no /en/ prefix), whoever's request made
    the change: readers of the event localise it themselves."""
    with translation.override(settings.LANGUAGE_CODE):
        return obj.get_absolute_url()


@dataclass(frozen=True)
class ScenarioSnapshot(Event):
    """What the public can read of a scenario after a change; `version` is its revision then."""

    scenario_id: int
    version: int
    title: str
    title_en: str
    description: str
    description_en: str
    organisation_id: int
    organisation_name: str
    sector: str
    city: str
    budget_min: int | None
    budget_max: int | None
    data_available: str
    deadline: str
    status: str
    url: str
    published_at: str
    updated_at: str

    @classmethod
    def of(cls, scenario: Scenario) -> Self:
        assert scenario.published_at is not None and scenario.deadline is not None
        return cls(
            scenario_id=scenario.pk,
            version=scenario.revision,
            title=scenario.title,
            title_en=scenario.title_en,
            description=scenario.description,
            description_en=scenario.description_en,
            organisation_id=scenario.organisation_id,
            organisation_name=scenario.organisation.name,
            sector=scenario.sector,
            city=scenario.city,
            budget_min=scenario.budget_min,
            budget_max=scenario.budget_max,
            data_available=scenario.data_available,
            deadline=scenario.deadline.isoformat(),
            status=scenario.status,
            url=canonical_path(scenario),
            published_at=scenario.published_at.isoformat(),
            updated_at=scenario.updated_at.isoformat(),
        )


@event_type("scenarios.scenario.published.v1")
@dataclass(frozen=True)
class ScenarioPublished(ScenarioSnapshot):
    """The first publish: the scenario is open for proposals (version 1)."""


@event_type("scenarios.scenario.updated.v1")
@dataclass(frozen=True)
class ScenarioUpdated(ScenarioSnapshot):
    """Any later change of a published scenario, its status included."""


@event_type("scenarios.scenario.withdrawn.v1")
@dataclass(frozen=True)
class ScenarioWithdrawn(Event):
    """The publisher took the scenario down: it is no longer public."""

    scenario_id: int
    version: int
    url: str


@dataclass(frozen=True)
class ProposalEvent(Event):
    """A step of a proposal; `recipients` are the people the notifier tells."""

    proposal_id: int
    scenario_id: int
    scenario_title: str
    organisation_id: int
    organisation_name: str
    url: str
    recipients: list[int]

    @classmethod
    def of(cls, proposal: Proposal, *, recipients: list[int]) -> Self:
        return cls(
            proposal_id=proposal.pk,
            scenario_id=proposal.scenario_id,
            scenario_title=proposal.scenario.title,
            organisation_id=proposal.organisation_id,
            organisation_name=proposal.organisation.name,
            url=canonical_path(proposal),
            recipients=sorted(recipients),
        )


@event_type("scenarios.proposal.submitted.v1")
@dataclass(frozen=True)
class ProposalSubmitted(ProposalEvent):
    """Sent to the scenario: its publishers are told."""


@event_type("scenarios.proposal.withdrawn.v1")
@dataclass(frozen=True)
class ProposalWithdrawn(ProposalEvent):
    """Taken back by the startup: the publishers are told (nobody, if it was only a draft)."""


@event_type("scenarios.proposal.shortlisted.v1")
@dataclass(frozen=True)
class ProposalShortlisted(ProposalEvent):
    """The publisher shortlisted it: the startup's members are told."""


@event_type("scenarios.proposal.declined.v1")
@dataclass(frozen=True)
class ProposalDeclined(ProposalEvent):
    """The publisher declined it: the startup's members are told."""


@event_type("scenarios.proposal.awarded.v1")
@dataclass(frozen=True)
class ProposalAwarded(ProposalEvent):
    """The publisher awarded it (the scenario becomes awarded): the startup's members are told."""


@event_type("scenarios.match.suggested.v1")
@dataclass(frozen=True)
class MatchSuggested(Event):
    """The startups matching suggests for a scenario now, best first (an empty list: none any more).

    `suggestions` are {organisation_id, organisation_name, score}; `recipients` are the members of the
    startups suggested for the first time, so a startup is told once, not at every change of the list.
    """

    scenario_id: int
    scenario_title: str
    url: str
    suggestions: list[dict[str, Any]]
    recipients: list[int]

"""Events the accounts context publishes (topic `accounts`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from hub.events.registry import Event, event_type

if TYPE_CHECKING:
    from hub.accounts.models import Organisation


@event_type("accounts.user.registered.v1")
@dataclass(frozen=True)
class UserRegistered(Event):
    user_id: int
    username: str
    recipients: list[int]


@event_type("accounts.organisation.created.v1")
@dataclass(frozen=True)
class OrganisationCreated(Event):
    organisation_id: int
    name: str
    kind: str
    region: str


@event_type("accounts.organisation.updated.v1")
@dataclass(frozen=True)
class OrganisationUpdated(Event):
    """The organisation's profile after a change; `version` is its profile_version then (creation is 1)."""

    organisation_id: int
    version: int
    name: str
    name_en: str
    kind: str
    region: str
    description: str
    description_en: str
    capabilities: list[str]
    sectors: list[str]

    @classmethod
    def of(cls, organisation: Organisation) -> Self:
        return cls(
            organisation_id=organisation.pk,
            version=organisation.profile_version,
            name=organisation.name,
            name_en=organisation.name_en,
            kind=organisation.kind,
            region=organisation.region,
            description=organisation.description,
            description_en=organisation.description_en,
            capabilities=list(organisation.capabilities),
            sectors=list(organisation.sectors),
        )


@event_type("accounts.membership.granted.v1")
@dataclass(frozen=True)
class MembershipGranted(Event):
    membership_id: int
    user_id: int
    organisation_id: int
    organisation_name: str
    role: str
    recipients: list[int]

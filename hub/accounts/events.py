"""Events the accounts context publishes (topic `accounts`)."""

from dataclasses import dataclass

from hub.events.registry import Event, event_type


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


@event_type("accounts.membership.granted.v1")
@dataclass(frozen=True)
class MembershipGranted(Event):
    membership_id: int
    user_id: int
    organisation_id: int
    organisation_name: str
    role: str
    recipients: list[int]

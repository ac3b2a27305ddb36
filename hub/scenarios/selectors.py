"""Reads shared by the scenario pages, services and demo: what there is, and who may see or act on it.

Who is who: a publisher of a scenario is any member of its organisation; a startup member is a
member of an organisation of kind startup and sends proposals as that organisation; staff see
everything (but act only where they are members). Anonymous readers see public scenarios only.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from hub.accounts.models import Membership, Organisation, User
from hub.scenarios.models import MatchSuggestion, Proposal, ProposalAttachment, Scenario


def member_organisation_ids(*, user: Any) -> set[int]:
    """The organisations `user` belongs to (none for an anonymous visitor)."""
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))


def is_member(*, user: Any, organisation_id: int) -> bool:
    return organisation_id in member_organisation_ids(user=user)


def is_publisher(*, user: Any, scenario: Scenario) -> bool:
    """May `user` edit this scenario and decide on its proposals (a member of its organisation)?"""
    return is_member(user=user, organisation_id=scenario.organisation_id)


def member_ids(*, organisation_id: int) -> list[int]:
    """Every member of an organisation, whatever their role: the people its events tell."""
    return sorted(set(Membership.objects.filter(organisation_id=organisation_id).values_list("user_id", flat=True)))


def members_of(*, organisation_ids: list[int]) -> list[int]:
    """Every member of any of these organisations, each once: the people an event about them tells."""
    if not organisation_ids:
        return []
    memberships = Membership.objects.filter(organisation_id__in=organisation_ids)
    return sorted(set(memberships.values_list("user_id", flat=True)))


def publishing_organisations(*, user: Any) -> QuerySet[Organisation]:
    """The organisations a user may publish scenarios for: every one they belong to."""
    return Organisation.objects.filter(pk__in=member_organisation_ids(user=user)).order_by("name")


def startup_organisations(*, user: Any) -> QuerySet[Organisation]:
    """The startups a user may send proposals for."""
    return publishing_organisations(user=user).filter(kind=Organisation.Kind.STARTUP)


# --- scenarios --------------------------------------------------------------------------------
def scenarios_public(*, sector: str = "", city: str = "", status: str = "") -> QuerySet[Scenario]:
    """Published scenarios anyone may read, newest first, filtered by whichever values are given."""
    scenarios = Scenario.objects.filter(status__in=Scenario.PUBLIC)
    if sector:
        scenarios = scenarios.filter(sector=sector)
    if city:
        scenarios = scenarios.filter(city=city)
    if status:
        scenarios = scenarios.filter(status=status)
    return scenarios.select_related("organisation").order_by("-published_at", "-id")


def scenario_cities() -> list[str]:
    """The cities public scenarios are in, for the listing's filter."""
    cities = Scenario.objects.filter(status__in=Scenario.PUBLIC).exclude(city="").values_list("city", flat=True)
    return sorted(set(cities))


def scenarios_visible_to(*, user: Any) -> QuerySet[Scenario]:
    """Public scenarios, plus every scenario of the user's organisations (drafts, withdrawn); staff: all."""
    scenarios = Scenario.objects.select_related("organisation")
    if user.is_authenticated and user.is_staff:
        return scenarios
    return scenarios.filter(Q(status__in=Scenario.PUBLIC) | Q(organisation_id__in=member_organisation_ids(user=user)))


def scenarios_managed_by(*, user: User) -> QuerySet[Scenario]:
    """The scenarios of the user's organisations in every status, most recently changed first; staff: all."""
    scenarios = Scenario.objects.select_related("organisation")
    if not user.is_staff:
        scenarios = scenarios.filter(organisation_id__in=member_organisation_ids(user=user))
    received = Count("proposals", filter=Q(proposals__submitted_at__isnull=False))
    return scenarios.annotate(proposals_received=received).order_by("-updated_at", "-id")


# --- proposals --------------------------------------------------------------------------------
def proposals_visible_to(*, user: Any) -> QuerySet[Proposal]:
    """Proposals of the user's organisations, and those sent (never drafts) to their scenarios; staff: all."""
    proposals = Proposal.objects.select_related("scenario", "scenario__organisation", "organisation")
    if not user.is_authenticated:
        return proposals.none()
    if user.is_staff:
        return proposals
    mine = member_organisation_ids(user=user)
    return proposals.filter(
        Q(organisation_id__in=mine) | Q(scenario__organisation_id__in=mine, submitted_at__isnull=False)
    )


def proposals_of(*, user: User) -> QuerySet[Proposal]:
    """What the user's organisations have sent or are drafting, most recent first."""
    return (
        Proposal.objects.filter(organisation_id__in=member_organisation_ids(user=user))
        .select_related("scenario", "organisation")
        .order_by("-updated_at", "-id")
    )


def proposals_received(*, scenario: Scenario) -> QuerySet[Proposal]:
    """The proposals sent to a scenario (drafts stay with their startup), in the order they came."""
    return (
        Proposal.objects.filter(scenario=scenario, submitted_at__isnull=False)
        .select_related("organisation")
        .prefetch_related("attachments")
        .order_by("submitted_at", "id")
    )


def live_proposal(*, scenario: Scenario, organisation: Organisation) -> Proposal | None:
    """The organisation's proposal to this scenario that is not declined or withdrawn, if any."""
    return (
        Proposal.objects.filter(scenario=scenario, organisation=organisation).exclude(status__in=Proposal.ENDED).first()
    )


def attachments_visible_to(*, user: Any) -> QuerySet[ProposalAttachment]:
    """Attachments of the proposals the user may see."""
    return ProposalAttachment.objects.filter(proposal__in=proposals_visible_to(user=user)).select_related("proposal")


# --- matching ---------------------------------------------------------------------------------
def match_suggestions(*, scenario: Scenario) -> list[MatchSuggestion]:
    """The startups suggested for a scenario, best first (as the last matching run stored them)."""
    return list(scenario.match_suggestions.select_related("organisation").order_by("rank"))

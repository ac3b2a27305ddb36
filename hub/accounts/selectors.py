"""Reads about users and organisations shared by pages, APIs and tasks."""

from django.db.models import QuerySet

from hub.accounts.models import Membership, Organisation, User


def user_roles(*, user: User) -> set[str]:
    """Every role the user holds in any organisation."""
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def organisation_members(*, organisation: Organisation, role: str | None = None) -> QuerySet[User]:
    members = User.objects.filter(memberships__organisation=organisation)
    if role:
        members = members.filter(memberships__role=role)
    return members.distinct().order_by("username")

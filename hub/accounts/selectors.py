"""Reads about users and organisations shared by pages, APIs and tasks."""

from typing import Any

from django.db.models import QuerySet

from hub.accounts.models import Membership, Organisation, Role, User


def user_roles(*, user: User) -> set[str]:
    """Every role the user holds in any organisation."""
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def organisation_members(*, organisation: Organisation, role: str | None = None) -> QuerySet[User]:
    members = User.objects.filter(memberships__organisation=organisation)
    if role:
        members = members.filter(memberships__role=role)
    return members.distinct().order_by("username")


def may_edit_profile(*, user: Any, organisation: Organisation) -> bool:
    """Staff, and the organisation's administrators (role admin there), may change its profile."""
    if not user.is_authenticated or not user.is_active:
        return False
    return (
        bool(user.is_staff) or Membership.objects.filter(user=user, organisation=organisation, role=Role.ADMIN).exists()
    )

"""Every write to accounts: one function, one transaction, its events published inside it."""

from django.db import transaction

from hub.accounts.events import MembershipGranted, OrganisationCreated, UserRegistered
from hub.accounts.models import Membership, Organisation, Role, User
from hub.events.publish import publish


class MembershipRefused(Exception):
    """The membership cannot be granted (e.g. the user already holds that role there)."""


def user_register(
    *, username: str, email: str, password: str | None, display_name: str = "", language: str = "zh-hans"
) -> User:
    """Create a user account and announce it (the notifier welcomes them)."""
    with transaction.atomic():
        user = User(username=username, email=email, display_name=display_name, language=language)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        publish(UserRegistered(user_id=user.pk, username=user.username, recipients=[user.pk]), key=user.pk)
    return user


def organisation_create(
    *, name: str, kind: str, region: str = "", name_en: str = "", website: str = ""
) -> Organisation:
    with transaction.atomic():
        organisation = Organisation(name=name, kind=kind, region=region, name_en=name_en, website=website)
        organisation.full_clean()
        organisation.save()
        publish(
            OrganisationCreated(
                organisation_id=organisation.pk, name=organisation.name, kind=organisation.kind, region=region
            ),
            key=organisation.pk,
        )
    return organisation


def membership_grant(*, user: User, organisation: Organisation, role: str, by: User | None = None) -> Membership:
    """Give `user` a role in `organisation`; refused if they already hold it there."""
    if role not in Role.values:
        raise MembershipRefused(f"unknown role {role!r}")
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            user=user, organisation=organisation, role=role, defaults={"granted_by": by}
        )
        if not created:
            raise MembershipRefused(f"{user} already holds {role} in {organisation}")
        publish(
            MembershipGranted(
                membership_id=membership.pk,
                user_id=user.pk,
                organisation_id=organisation.pk,
                organisation_name=organisation.name,
                role=role,
                recipients=[user.pk],
            ),
            key=organisation.pk,
        )
    return membership

"""Every write to accounts: one function, one transaction, its events published inside it."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from hub.accounts.events import MembershipGranted, OrganisationCreated, OrganisationUpdated, UserRegistered
from hub.accounts.models import (
    Membership,
    Organisation,
    Role,
    User,
    capabilities_from,
    validate_capabilities,
    validate_sectors,
)
from hub.accounts.selectors import may_edit_profile
from hub.events.publish import publish

# What an organisation's administrators may change about it (its kind is the registry's to decide).
PROFILE_FIELDS = ("name", "name_en", "region", "website", "description", "description_en", "capabilities", "sectors")


class MembershipRefused(Exception):
    """The membership cannot be granted (e.g. the user already holds that role there)."""


class NotPermitted(PermissionDenied):
    """The actor may not do this at all (e.g. edit a profile without being its administrator): a 403."""


class ProfileRefused(Exception):
    """The profile cannot be saved as given; `message` tells why, `errors` maps fields to messages."""

    def __init__(self, message: str, *, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = {
            field: [str(m) for m in messages] for field, messages in (errors or {}).items()
        }


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


def organisation_update_profile(*, organisation: Organisation, by: User, fields: Mapping[str, Any]) -> Organisation:
    """Change an organisation's profile (name, region, website, bilingual description, capabilities,
    sectors), by one of its administrators or staff; anyone else gets NotPermitted.

    Capabilities may be a list or one typed line (separated by , ， 、 ;): they are trimmed and each
    kept once; more than 20, or one over 30 characters, is a ProfileRefused naming the field, as is
    an unknown sector. A change is the next profile_version and is published whole as
    `accounts.organisation.updated.v1`; a save that changes nothing is not a new version.
    """
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"not profile fields: {', '.join(sorted(unknown))}")
    if not may_edit_profile(user=by, organisation=organisation):
        raise NotPermitted(_("Only the organisation's administrators may change its profile."))
    with transaction.atomic():
        # Locked: two editors saving at once get consecutive versions, never the same one twice.
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        before = {name: getattr(organisation, name) for name in PROFILE_FIELDS}
        for name, value in fields.items():
            if name == "capabilities":
                value = capabilities_from(value)
            elif name == "sectors":
                value = list(dict.fromkeys(value))
            elif isinstance(value, str):
                value = value.strip()
            setattr(organisation, name, value)
        _check_profile(organisation)
        if all(getattr(organisation, name) == value for name, value in before.items()):
            return organisation
        organisation.profile_version += 1
        organisation.save()
        publish(OrganisationUpdated.of(organisation), key=organisation.pk)
    return organisation


def _check_profile(organisation: Organisation) -> None:
    errors: dict[str, list[str]] = {}
    for name, check in (("capabilities", validate_capabilities), ("sectors", validate_sectors)):
        try:
            check(getattr(organisation, name))
        except ValidationError as exc:
            errors[name] = list(exc.messages)
    try:
        # The tags' own messages above are clearer than the list field's item-by-item ones.
        organisation.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ProfileRefused(_("Please correct the marked fields."), errors=errors)

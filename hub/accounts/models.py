"""Users, organisations and memberships (a user's role within an organisation)."""

import re
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from hub.sectors import SECTORS

MAX_CAPABILITIES = 20
MAX_CAPABILITY_LENGTH = 30
# Typed in one line: commas (Latin or Chinese), the enumeration comma 、, semicolons or new lines.
CAPABILITY_SEPARATORS = re.compile(r"[,，、;；\n]+")


def capabilities_from(value: str | Iterable[str]) -> list[str]:
    """Capability tags from what a person typed (one line with separators) or a list: each trimmed,
    empty ones dropped, each tag once (the first spelling wins, case aside). Limits are checked by
    validate_capabilities."""
    parts = CAPABILITY_SEPARATORS.split(value) if isinstance(value, str) else [str(tag) for tag in value]
    tags: dict[str, str] = {}
    for part in parts:
        tag = " ".join(part.split())  # inner runs of spaces become one
        if tag:
            tags.setdefault(tag.casefold(), tag)
    return list(tags.values())


def validate_capabilities(tags: list[str]) -> None:
    """At most MAX_CAPABILITIES tags of at most MAX_CAPABILITY_LENGTH characters each."""
    if len(tags) > MAX_CAPABILITIES:
        raise ValidationError(
            _("At most %(count)d capabilities, please (there are %(given)d)."),
            params={"count": MAX_CAPABILITIES, "given": len(tags)},
            code="too_many",
        )
    too_long = [tag for tag in tags if len(tag) > MAX_CAPABILITY_LENGTH]
    if too_long:
        raise ValidationError(
            _("Keep each capability to %(length)d characters or fewer: %(tags)s"),
            params={"length": MAX_CAPABILITY_LENGTH, "tags": "，".join(too_long)},
            code="too_long",
        )


def validate_sectors(slugs: list[str]) -> None:
    unknown = [slug for slug in slugs if slug not in SECTORS]
    if unknown:
        raise ValidationError(
            _("Not a sector of the programme: %(sectors)s"), params={"sectors": ", ".join(unknown)}, code="unknown"
        )


class User(AbstractUser):
    """A person. Names are free text: Chinese names do not split into first and last."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    def __str__(self) -> str:
        return self.display_name or self.username


class Organisation(models.Model):
    class Kind(models.TextChoices):
        STARTUP = "startup", _("Startup")
        INCUBATOR = "incubator", _("Incubator")
        UNIVERSITY = "university", _("University or institute")
        ENTERPRISE = "enterprise", _("Enterprise")
        GOVERNMENT = "government", _("Government body")
        FUND = "fund", _("Fund")

    name = models.CharField(_("name"), max_length=200, unique=True)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    region = models.CharField(_("region"), max_length=100, blank=True, help_text=_("City or county, e.g. 合肥市"))
    website = models.URLField(_("website"), blank=True)
    # The profile: what the organisation does, for readers and for matching it with scenarios.
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    capabilities = ArrayField(
        models.CharField(max_length=MAX_CAPABILITY_LENGTH),
        default=list,
        blank=True,
        validators=[validate_capabilities],
        verbose_name=_("capabilities"),
        help_text=_("Short tags, e.g. 医学影像, 大模型, 工业视觉"),
    )
    sectors = ArrayField(
        models.CharField(max_length=40),
        default=list,
        blank=True,
        validators=[validate_sectors],
        verbose_name=_("sectors"),
    )
    # The version of the profile the public has seen: 1 as created, one more for every change
    # (organisation_update_profile), so the search index can drop stale events.
    profile_version = models.PositiveIntegerField(_("profile version"), default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:organisation", args=[self.pk])

    def sector_labels(self) -> list[str]:
        return [str(SECTORS[slug]) for slug in self.sectors if slug in SECTORS]


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    EDITOR = "editor", _("Editor")
    COMPETITION_HOST = "competition_host", _("Competition host")
    ENTRANT = "entrant", _("Competition entrant")
    STARTUP_MEMBER = "startup_member", _("Startup member")
    FUND_MANAGER = "fund_manager", _("Fund manager")
    REVIEWER = "reviewer", _("Reviewer")


class Membership(models.Model):
    """A user holds a role within an organisation; one row per (user, organisation, role)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("granted by")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="membership_unique_role"),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.get_role_display()})"

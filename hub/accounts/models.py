"""Users, organisations and memberships (a user's role within an organisation)."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


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

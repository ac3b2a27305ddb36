"""Scenario calls (场景征集) published by organisations, and the proposals startups send to them."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import Organisation
from hub.publishing import PublishedAggregate
from hub.sectors import SECTORS
from hub.storage import private_storage

MAX_CAPABILITIES = 12
MAX_CAPABILITY_LENGTH = 40

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()\-]{5,24}$", _("Enter a phone number: digits, spaces, brackets, '-' and a leading '+'.")
)


class Scenario(PublishedAggregate):
    """A concrete problem an organisation wants AI to solve, open to proposals once published.

    Drafts may be incomplete (autosave keeps whatever was typed); publishing checks every field a
    reader needs (services.scenario_publish). `revision` counts the versions the public has seen:
    1 at the first publish, one more for every later change, so consumers can drop stale events.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open for proposals")
        MATCHING = "matching", _("Matching")
        AWARDED = "awarded", _("Awarded")
        CLOSED = "closed", _("Closed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    # Statuses the public may see; drafts and withdrawn scenarios stay with their organisation.
    PUBLIC = (Status.OPEN, Status.MATCHING, Status.AWARDED, Status.CLOSED)

    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="scenarios", verbose_name=_("publisher")
    )
    sector = models.CharField(_("sector"), max_length=40, choices=list(SECTORS.items()), blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True, help_text=_("e.g. 合肥市"))
    budget_min = models.PositiveBigIntegerField(_("budget from (yuan)"), null=True, blank=True)
    budget_max = models.PositiveBigIntegerField(_("budget up to (yuan)"), null=True, blank=True)
    data_available = models.TextField(
        _("data available"), blank=True, help_text=_("What data the solution may use, and how it is shared.")
    )
    deadline = models.DateField(_("deadline for proposals"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True, validators=[phone_validator])

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget_min__isnull=True) | Q(budget_max__isnull=True) | Q(budget_min__lte=F("budget_max")),
                name="scenario_budget_min_le_max",
                violation_error_message=_("The lower budget must not exceed the upper budget."),
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="scenario_published_has_date",
            ),
        ]
        indexes = [models.Index(fields=["status", "-published_at"], name="scenario_status_published")]
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("scenarios:detail", args=[self.pk])

    @property
    def is_public(self) -> bool:
        return self.status in self.PUBLIC

    @property
    def is_published(self) -> bool:
        """Published once, whatever it is now: its changes are public and counted in `revision`."""
        return self.status != self.Status.DRAFT

    @property
    def deadline_passed(self) -> bool:
        """The deadline is a whole day in the site's time zone: proposals are taken until it ends."""
        return self.deadline is not None and timezone.localdate() > self.deadline

    @property
    def accepts_proposals(self) -> bool:
        return self.status == self.Status.OPEN and self.deadline is not None and not self.deadline_passed


class Proposal(models.Model):
    """A startup's answer to a scenario; one live proposal per (scenario, organisation)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        SHORTLISTED = "shortlisted", _("Shortlisted")
        AWARDED = "awarded", _("Awarded")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    # Not live: the organisation may send a new proposal to the same scenario.
    ENDED = (Status.DECLINED, Status.WITHDRAWN)

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="proposals")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="scenario_proposals", verbose_name=_("startup")
    )
    summary = models.TextField(_("summary of the solution"), blank=True)
    capabilities = ArrayField(
        models.CharField(max_length=MAX_CAPABILITY_LENGTH),
        size=MAX_CAPABILITIES,
        default=list,
        blank=True,
        verbose_name=_("capabilities"),
    )
    references = models.TextField(_("references"), blank=True, help_text=_("Similar projects, customers, papers."))
    price = models.PositiveBigIntegerField(_("price (yuan)"), null=True, blank=True, validators=[MinValueValidator(0)])
    timeline = models.TextField(_("timeline"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "organisation"],
                condition=~Q(status__in=["declined", "withdrawn"]),
                name="proposal_one_live_per_organisation",
                violation_error_message=_("Your organisation already has a proposal for this scenario."),
            ),
        ]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")

    def __str__(self) -> str:
        return f"{self.organisation} → {self.scenario}"

    def get_absolute_url(self) -> str:
        return reverse("scenarios:proposal_detail", args=[self.pk])

    def clean(self) -> None:
        tags = [tag.strip() for tag in self.capabilities]
        if any(not tag for tag in tags):
            raise ValidationError({"capabilities": _("A capability cannot be empty.")})
        if len({tag.casefold() for tag in tags}) != len(tags):
            raise ValidationError({"capabilities": _("Each capability once, please.")})
        self.capabilities = tags

    @property
    def is_live(self) -> bool:
        return self.status not in self.ENDED


def attachment_path(instance: ProposalAttachment, filename: str) -> str:
    """An unguessable name: the original one is kept in the row, never in the path."""
    suffix = PurePath(filename).suffix.lower()
    return f"scenarios/proposals/{uuid.uuid4().hex}{suffix}"


class ProposalAttachment(models.Model):
    """A file sent with a proposal; checked by extension and content (services.attachment_check)."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, storage=private_storage, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("scenarios:attachment_download", args=[self.pk])


class MatchSuggestion(models.Model):
    """A startup that matching (hub.search.matching) suggests for a scenario, with its rank and score.

    A scenario's suggestions are replaced wholesale each time matching runs for it
    (services.match_suggestions_replace); the score is comparable within one scenario's list only.
    """

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="match_suggestions")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="scenario_suggestions", verbose_name=_("startup")
    )
    score = models.FloatField(_("score"))
    rank = models.PositiveSmallIntegerField(_("rank"))
    suggested_at = models.DateTimeField(_("suggested at"), default=timezone.now)

    class Meta:
        ordering = ["scenario", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "organisation"], name="match_suggestion_once"),
            models.UniqueConstraint(fields=["scenario", "rank"], name="match_suggestion_rank_once"),
        ]
        verbose_name = _("suggested startup")
        verbose_name_plural = _("suggested startups")

    def __str__(self) -> str:
        return f"{self.scenario} ← {self.organisation} (#{self.rank})"

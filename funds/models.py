"""Funds, their calls, applications and their audit trail, conflicts, reviews, tranches and payments.

Every change goes through funds.services, which checks who may act (funds.workflow), keeps the budgets
and publishes the events; the constraints here are the invariants the database keeps whoever writes.
Money is CNY in Decimal with two places, never a float.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, RevisionMixin

from funds.forms_builder import FormFieldsBlock
from hub.accounts.models import Organisation
from hub.publishing import PublishedAggregate
from hub.storage import private_storage

# Up to a trillion yuan, to the fen: larger than any real figure, so "absurd" is a refusal, not an overflow.
MONEY_DIGITS = 14
MONEY_PLACES = 2
ZERO = Decimal("0.00")


def money_field(verbose_name: Any, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


class AppendOnly(Exception):
    """An audit row was to be changed or deleted; the trail only ever grows."""


class AppendOnlyModel(models.Model):
    """Rows written once: saving an existing row or deleting one raises AppendOnly. Each concrete table
    also has a trigger (in its migrations) that refuses UPDATE and DELETE, whoever writes."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnly(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly(f"{self._meta.verbose_name_plural} are append-only")


class Fund(models.Model):
    """A pot of money a managing organisation runs through calls; its managers run every call of it.

    `committed` is the sum of the approved amounts of its applications (still owed or paid), `disbursed`
    what has been paid; both only change with a row lock on the fund (funds.services), so the database
    check `committed <= total_budget` holds even under concurrent approvals.
    """

    class Kind(models.TextChoices):
        ANGEL = "angel", _("Angel fund")
        INDUSTRY = "industry", _("Industry fund")
        COMPUTE_SUBSIDY = "compute_subsidy", _("Compute subsidy programme")

    name = models.CharField(_("name"), max_length=200, unique=True)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    managing_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="managed_funds", verbose_name=_("managing organisation")
    )
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_funds", verbose_name=_("managers")
    )
    total_budget = money_field(_("total budget (CNY)"))
    committed = money_field(_("committed (CNY)"), default=ZERO, editable=False)
    disbursed = money_field(_("disbursed (CNY)"), default=ZERO, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(total_budget__gte=0), name="fund_budget_not_negative"),
            models.CheckConstraint(
                condition=Q(committed__gte=0) & Q(committed__lte=F("total_budget")), name="fund_committed_within_budget"
            ),
            models.CheckConstraint(
                condition=Q(disbursed__gte=0) & Q(disbursed__lte=F("committed")), name="fund_disbursed_within_committed"
            ),
        ]
        verbose_name = _("fund")
        verbose_name_plural = _("funds")

    def __str__(self) -> str:
        return self.name

    @property
    def remaining(self) -> Decimal:
        """What is neither committed nor paid: what further approvals may still take."""
        return self.total_budget - self.committed


class ApplicationForm(DraftStateMixin, RevisionMixin, models.Model):
    """An application form fund managers build in the Wagtail admin from field blocks
    (funds.forms_builder). Editing it changes nothing applicants see until it is published, which
    freezes its fields in a new FormVersion (funds.services.form_version_freeze)."""

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    fields = StreamField(FormFieldsBlock(), verbose_name=_("questions"))
    revisions = GenericRelation("wagtailcore.Revision", related_query_name="application_form")

    class Meta:
        verbose_name = _("application form")
        verbose_name_plural = _("application forms")

    def __str__(self) -> str:
        return self.name


class FormVersion(models.Model):
    """The questions of a form as they were when published (number 1, 2, ...): what applications given
    on this version are read and checked against, whatever the form becomes later."""

    form = models.ForeignKey(ApplicationForm, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    fields = models.JSONField(_("field definitions"))
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["form", "number"]
        constraints = [models.UniqueConstraint(fields=["form", "number"], name="form_version_once")]
        verbose_name = _("form version")
        verbose_name_plural = _("form versions")

    def __str__(self) -> str:
        return f"{self.form} v{self.number}"


class Call(PublishedAggregate):
    """A call for applications to a fund: its window, who may apply, its envelope, rubric and reviewers.

    Eligibility: an applicant organisation's kind must be in `eligible_kinds` and its region in
    `eligible_regions` (an empty list admits any). `committed`/`disbursed` are the call's share of its
    fund's figures, kept under the same locks.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="calls", verbose_name=_("fund"))
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    eligible_kinds = ArrayField(
        models.CharField(max_length=20, choices=Organisation.Kind.choices),
        default=list,
        blank=True,
        verbose_name=_("eligible organisation kinds"),
        help_text=_("Empty: any kind."),
    )
    eligible_regions = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        verbose_name=_("eligible regions"),
        help_text=_("Empty: any region."),
    )
    budget_envelope = money_field(_("budget envelope (CNY)"))
    committed = money_field(_("committed (CNY)"), default=ZERO, editable=False)
    disbursed = money_field(_("disbursed (CNY)"), default=ZERO, editable=False)
    blind_review = models.BooleanField(_("blind review"), default=False)
    reviewers_per_application = models.PositiveSmallIntegerField(_("reviewers per application"), default=2)
    # The fast track: when a phase of this competition (competitions' id: another context, so no foreign
    # key) closes, the organisations of its top teams are invited to this call.
    fast_track_competition_id = models.BigIntegerField(_("fast-track competition"), null=True, blank=True)
    fast_track_top = models.PositiveSmallIntegerField(
        _("teams invited by the fast track"), default=0, help_text=_("0: no fast track.")
    )
    form = models.ForeignKey(
        ApplicationForm,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        verbose_name=_("application form"),
    )
    # The number of `form`'s latest published version, which new answers are given on; publishing the
    # form moves it (funds.services.form_version_freeze).
    form_version = models.PositiveIntegerField(_("form version"), default=1)
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="PoolReviewer", related_name="review_pools", verbose_name=_("reviewer pool")
    )

    class Meta:
        ordering = ["-opens_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="call_closes_after_opening"),
            models.CheckConstraint(condition=Q(budget_envelope__gte=0), name="call_envelope_not_negative"),
            models.CheckConstraint(
                condition=Q(committed__gte=0) & Q(committed__lte=F("budget_envelope")),
                name="call_committed_within_envelope",
            ),
            models.CheckConstraint(
                condition=Q(disbursed__gte=0) & Q(disbursed__lte=F("committed")), name="call_disbursed_within_committed"
            ),
            models.CheckConstraint(condition=Q(reviewers_per_application__gte=1), name="call_needs_reviewers"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False), name="call_published_has_date"
            ),
        ]
        verbose_name = _("call")
        verbose_name_plural = _("calls")

    def __str__(self) -> str:
        return self.title

    @property
    def remaining(self) -> Decimal:
        return self.budget_envelope - self.committed

    def is_open(self, now: datetime.datetime | None = None) -> bool:
        """Takes new applications and submissions now: published and inside its window."""
        now = now or timezone.now()
        return self.status == self.Status.PUBLISHED and self.opens_at <= now < self.closes_at


class PoolReviewer(models.Model):
    """A reviewer in a call's pool, with the expertise tags automatic assignment matches."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="pool")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expertise = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("expertise"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["call", "reviewer"], name="pool_reviewer_once")]
        verbose_name = _("pool reviewer")
        verbose_name_plural = _("pool reviewers")

    def __str__(self) -> str:
        return f"{self.reviewer} @ {self.call}"


class RubricCriterion(models.Model):
    """One scored criterion of a call's rubric; a review's total weighs each score by `weight`."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200, blank=True)
    weight = models.DecimalField(_("weight"), max_digits=5, decimal_places=2)
    max_score = models.PositiveSmallIntegerField(_("highest score"), default=10)

    class Meta:
        ordering = ["call", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gt=0), name="criterion_weight_positive"),
            models.CheckConstraint(condition=Q(max_score__gte=1), name="criterion_max_score_positive"),
        ]
        verbose_name = _("rubric criterion")
        verbose_name_plural = _("rubric criteria")

    def __str__(self) -> str:
        return self.title


class Application(models.Model):
    """An organisation's application to a call, from draft to closed (funds.workflow has the steps).

    `answers` are given on form version `form_version`, so later form edits never reinterpret them.
    `locked` is set on approval: from then on only a recorded amendment (application_amend) changes it.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        SCREENING = "screening", _("Screening")
        MORE_INFORMATION = "more_information", _("More information requested")
        IN_REVIEW = "in_review", _("In review")
        DECISION_PENDING = "decision_pending", _("Decision pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        AGREEMENT = "agreement", _("Agreement signed")
        DISBURSING = "disbursing", _("Disbursing")
        CLOSED = "closed", _("Closed")

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="applications")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="fund_applications", verbose_name=_("applicant")
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    co_applicants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="co_applications", verbose_name=_("co-applicants")
    )
    title = models.CharField(_("project title"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    form_version = models.PositiveIntegerField(_("form version"))
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("topics"))
    requested_amount = money_field(_("requested amount (CNY)"))
    approved_amount = money_field(_("approved amount (CNY)"), null=True, blank=True)
    disbursed = money_field(_("disbursed (CNY)"), default=ZERO, editable=False)
    locked = models.BooleanField(_("locked"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "draft",
                        "submitted",
                        "screening",
                        "more_information",
                        "in_review",
                        "decision_pending",
                        "approved",
                        "rejected",
                        "withdrawn",
                        "agreement",
                        "disbursing",
                        "closed",
                    ]
                ),
                name="application_status_known",
            ),
            models.CheckConstraint(condition=Q(requested_amount__gt=0), name="application_requested_positive"),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__gt=0),
                name="application_approved_positive",
            ),
            models.CheckConstraint(
                condition=Q(disbursed__gte=0) & (Q(disbursed=0) | Q(disbursed__lte=F("approved_amount"))),
                name="application_disbursed_within_approved",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "agreement", "disbursing", "closed"])
                | (Q(approved_amount__isnull=False) & Q(locked=True)),
                name="application_approved_is_locked",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "withdrawn"]) | Q(submitted_at__isnull=False),
                name="application_submitted_has_date",
            ),
        ]
        indexes = [models.Index(fields=["call", "status"], name="application_call_status")]
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def __str__(self) -> str:
        return self.title


class Attachment(models.Model):
    """A file an applicant uploaded in answer to a file question, in private storage; the answer in
    `Application.answers` names it by id. Read only through the applicants' and managers' pages."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="attachments")
    question = models.CharField(_("question"), max_length=40)
    file = models.FileField(upload_to="funds/applications/%Y/%m/", storage=private_storage)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["application", "uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class ApplicationEvent(AppendOnlyModel):
    """One line of an application's audit trail: who did what, when, from which status to which, and why.

    Append-only: saving an existing row or deleting one raises AppendOnly here, and a trigger (migration
    0002) refuses UPDATE and DELETE in the database itself.
    """

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="trail")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(_("action"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20)
    reason = models.TextField(_("why"), blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["application", "at", "id"]
        verbose_name = _("application event")
        verbose_name_plural = _("application events")

    def __str__(self) -> str:
        return f"{self.action}: {self.from_status} → {self.to_status}"


class Conflict(models.Model):
    """A reviewer's conflict of interest with one application or with an organisation (all its
    applications), declared by the reviewer or recorded by a manager. A conflicted reviewer is never
    assigned and never reads the application (funds.selectors)."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fund_conflicts")
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.CASCADE, related_name="conflicts"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="reviewer_conflicts"
    )
    reason = models.TextField(_("reason"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(application__isnull=True, organisation__isnull=False)
                | Q(application__isnull=False, organisation__isnull=True),
                name="conflict_one_subject",
            ),
            models.UniqueConstraint(fields=["reviewer", "application"], name="conflict_once_per_application"),
            models.UniqueConstraint(fields=["reviewer", "organisation"], name="conflict_once_per_organisation"),
        ]
        verbose_name = _("conflict of interest")
        verbose_name_plural = _("conflicts of interest")

    def __str__(self) -> str:
        return f"{self.reviewer} × {self.application or self.organisation}"


class ReviewAssignment(models.Model):
    """A reviewer asked to review one application. Revoked (not deleted) when a conflict comes to light
    or a manager takes it back: its review, if any, then no longer counts."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_assignments")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    manual = models.BooleanField(_("assigned by hand"), default=False)
    assigned_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["application", "assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "reviewer"],
                condition=Q(revoked_at__isnull=True),
                name="assignment_once_per_reviewer",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoked_reason=""), name="assignment_revoked_has_reason"
            ),
        ]
        verbose_name = _("review assignment")
        verbose_name_plural = _("review assignments")

    def __str__(self) -> str:
        return f"{self.reviewer} → {self.application}"


class Review(models.Model):
    """A reviewer's scores on the call's rubric (criterion id → score), a comment and the weighted total
    (0–100), for one assignment: at most one review per assignment."""

    assignment = models.OneToOneField(ReviewAssignment, on_delete=models.CASCADE, related_name="review")
    scores = models.JSONField(_("scores"))
    comment = models.TextField(_("comment"), blank=True)
    total = models.DecimalField(_("weighted total"), max_digits=5, decimal_places=2)
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0) & Q(total__lte=100), name="review_total_in_range"),
        ]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return f"{self.assignment}: {self.total}"


class Tranche(models.Model):
    """A part of the approved amount, paid once its milestone's report is accepted."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="tranches")
    position = models.PositiveSmallIntegerField(_("position"))
    milestone = models.CharField(_("milestone"), max_length=300)
    milestone_en = models.CharField(_("English milestone"), max_length=300, blank=True)
    amount = money_field(_("amount (CNY)"))
    due = models.DateField(_("due"))

    class Meta:
        ordering = ["application", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="tranche_amount_positive"),
            models.UniqueConstraint(fields=["application", "position"], name="tranche_position_once"),
        ]
        verbose_name = _("tranche")
        verbose_name_plural = _("tranches")

    def __str__(self) -> str:
        return f"{self.application} #{self.position}: {self.amount}"


class MilestoneReport(models.Model):
    """What the applicant reports for a tranche's milestone; a manager accepts it or sends it back."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted")
        RETURNED = "returned", _("Returned for changes")

    tranche = models.ForeignKey(Tranche, on_delete=models.PROTECT, related_name="reports")
    text = models.TextField(_("report"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["tranche", "submitted_at", "id"]
        constraints = [
            # One accepted report per tranche: the one its payment rests on.
            models.UniqueConstraint(
                fields=["tranche"], condition=Q(status="accepted"), name="milestone_report_accepted_once"
            ),
        ]
        verbose_name = _("milestone report")
        verbose_name_plural = _("milestone reports")

    def __str__(self) -> str:
        return f"{self.tranche}: {self.get_status_display()}"


class Payment(models.Model):
    """The payment of a tranche, with the bank's or treasury's reference; one per tranche."""

    tranche = models.OneToOneField(Tranche, on_delete=models.PROTECT, related_name="payment")
    reference = models.CharField(_("payment reference"), max_length=100, unique=True)
    amount = money_field(_("amount (CNY)"))
    paid_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-paid_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount}"


class FastTrackInvitation(models.Model):
    """An organisation invited to a call because its team ranked high in the call's linked competition."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="fast_track_invitations")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="fast_track_invitations")
    competition_id = models.BigIntegerField()
    phase_id = models.BigIntegerField()
    team_name = models.CharField(_("team"), max_length=100)
    rank = models.PositiveIntegerField(_("final rank"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["call", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["call", "organisation"], name="fast_track_once_per_organisation")
        ]
        verbose_name = _("fast-track invitation")
        verbose_name_plural = _("fast-track invitations")

    def __str__(self) -> str:
        return f"{self.organisation} → {self.call} (#{self.rank})"

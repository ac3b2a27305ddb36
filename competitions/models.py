"""Competitions, their phases and data, teams, submissions, quotas, leaderboard rows and the hosts' audit log.

Every change goes through competitions.services, which checks the rules and publishes the events; the
constraints here are the invariants the database keeps whoever writes.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import PurePath

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import Organisation
from hub.publishing import PublishedAggregate
from hub.storage import private_storage
from services.scorer.hidden import hidden_data_name

# The two halves of a phase's hidden test set (the labels file's `split` column names them).
SPLIT_PUBLIC = "public"
SPLIT_PRIVATE = "private"
SPLITS = (SPLIT_PUBLIC, SPLIT_PRIVATE)


def competition_path(slug: str) -> str:
    """A competition's page in the default language; the pages themselves come with the entrant views."""
    return f"/competitions/{slug}/"


class Competition(PublishedAggregate):
    """An AI competition a host organisation runs: one or more phases, teams of entrants, leaderboards.

    `revision` counts the versions the public has seen (1 at the first publish, one more per later change),
    so that consumers of its events can drop stale ones.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        ARCHIVED = "archived", _("Archived")

    # What the public may see; drafts stay with their host.
    PUBLIC = (Status.PUBLISHED, Status.RUNNING, Status.FINISHED, Status.ARCHIVED)
    # Entrants may form teams and submit only while a competition is announced or running.
    OPEN = (Status.PUBLISHED, Status.RUNNING)

    slug = models.SlugField(_("short name in the address"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    rules = models.TextField(_("rules"), blank=True)
    rules_en = models.TextField(_("English rules"), blank=True)
    prizes = models.TextField(_("prizes"), blank=True)
    host = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="competitions", verbose_name=_("host organisation")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    max_team_size = models.PositiveSmallIntegerField(
        _("largest team"), default=5, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False), name="competition_published_has_date"
            ),
            models.CheckConstraint(condition=Q(max_team_size__gte=1), name="competition_team_size_positive"),
        ]
        verbose_name = _("competition")
        verbose_name_plural = _("competitions")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return competition_path(self.slug)

    @property
    def is_public(self) -> bool:
        return self.status in self.PUBLIC


class Phase(models.Model):
    """A stage of a competition with its own window, submission rules, hidden data and leaderboards.

    The scoring configuration is the scorer's `ScoringConfig` as JSON (services.scorer.config); its first
    metric is the primary one, copied with its direction into `primary_metric` and `higher_is_better` so
    that leaderboards rank in SQL. The public leaderboard ranks on the hidden set's public split during the
    phase; the private one is revealed when the host closes the phase (`closed_at`).
    """

    class Kind(models.TextChoices):
        # The values are the scorer's runner names (services.scorer.runners.KINDS).
        PREDICTIONS = "predictions", _("Predictions file (CSV or JSON)")
        ONNX = "onnx", _("ONNX model")
        PACKAGE = "package", _("Python code package")

    class Resources(models.TextChoices):
        CPU = "cpu", _("CPU")
        GPU = "gpu", _("GPU")

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    starts_at = models.DateTimeField(_("opens"))
    ends_at = models.DateTimeField(_("closes"))
    accepted_kinds = ArrayField(
        models.CharField(max_length=20, choices=Kind.choices), verbose_name=_("accepted submission kinds")
    )
    resources = models.CharField(_("resources"), max_length=10, choices=Resources.choices, default=Resources.CPU)
    time_limit_seconds = models.PositiveIntegerField(_("time limit (seconds)"), default=600)
    memory_limit_bytes = models.PositiveBigIntegerField(_("memory limit (bytes)"), default=4 * 1024**3)
    max_upload_bytes = models.PositiveBigIntegerField(_("largest upload (bytes)"), default=100 * 1024**2)
    daily_limit = models.PositiveSmallIntegerField(_("submissions per team per day"), default=5)
    total_limit = models.PositiveIntegerField(_("submissions per team in all"), null=True, blank=True)
    final_selection_count = models.PositiveSmallIntegerField(_("final submissions a team may select"), default=2)
    public_fraction = models.FloatField(_("share of the hidden test set on the public leaderboard"), default=0.3)
    scoring_config = models.JSONField(_("scoring configuration"), default=dict)
    primary_metric = models.CharField(_("primary metric"), max_length=64)
    higher_is_better = models.BooleanField(_("higher is better"), default=True)
    extra_columns = ArrayField(
        models.CharField(max_length=64), default=list, blank=True, verbose_name=_("extra leaderboard columns")
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["competition", "starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="phase_ends_after_start"),
            models.CheckConstraint(
                condition=Q(accepted_kinds__len__gte=1)
                & Q(accepted_kinds__contained_by=["predictions", "onnx", "package"]),
                name="phase_accepted_kinds_known",
            ),
            models.CheckConstraint(
                condition=Q(public_fraction__gt=0) & Q(public_fraction__lt=1), name="phase_public_fraction_open"
            ),
            models.CheckConstraint(
                condition=Q(daily_limit__gte=1) & (Q(total_limit__isnull=True) | Q(total_limit__gte=1)),
                name="phase_limits_positive",
            ),
            models.CheckConstraint(
                condition=Q(time_limit_seconds__gte=1) & Q(memory_limit_bytes__gte=1) & Q(max_upload_bytes__gte=1),
                name="phase_resources_positive",
            ),
        ]
        verbose_name = _("phase")
        verbose_name_plural = _("phases")

    def __str__(self) -> str:
        return f"{self.competition} · {self.name}"

    @property
    def is_closed(self) -> bool:
        """Closed by the host: the private leaderboard is revealed and the ranking is final."""
        return self.closed_at is not None

    def is_open(self, now: datetime.datetime | None = None) -> bool:
        """Takes submissions now: inside its window and not closed."""
        now = now or timezone.now()
        return self.closed_at is None and self.starts_at <= now < self.ends_at


def data_path(instance: DataFile, filename: str) -> str:
    """Training files get an unguessable name (the original is kept in the row, never in the path); the
    hidden inputs and labels go where the scorer looks for its phase's hidden data."""
    if instance.role in DataFile.HIDDEN:
        return hidden_data_name(phase_id=instance.phase_id, role=instance.role)
    return f"competitions/data/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class DataFile(models.Model):
    """A file of a phase's data. Training files are for entrants to download (through a view that checks
    they entered); the hidden inputs and labels are for the scorer only: no URL, API field or event ever
    names them. All live in private storage."""

    class Role(models.TextChoices):
        TRAINING = "training", _("Training data (downloadable)")
        HIDDEN_INPUTS = "hidden_inputs", _("Hidden test inputs")
        HIDDEN_LABELS = "hidden_labels", _("Hidden test labels")
        SCORING_PROGRAM = "scoring_program", _("Scoring program (for custom metrics)")

    HIDDEN = (Role.HIDDEN_INPUTS, Role.HIDDEN_LABELS, Role.SCORING_PROGRAM)

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="data_files")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    file = models.FileField(upload_to=data_path, storage=private_storage, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phase", "role", "original_name"]
        constraints = [
            # One current set of hidden data per phase: the scorer resolves it by phase, never by path.
            models.UniqueConstraint(
                fields=["phase", "role"], condition=~Q(role="training"), name="datafile_one_hidden_per_role"
            ),
        ]
        verbose_name = _("data file")
        verbose_name_plural = _("data files")

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_hidden(self) -> bool:
        return self.role in self.HIDDEN


class Baseline(models.Model):
    """A reference entry the host shows on the leaderboard (not a team, never ranked among them)."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="baselines")
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    scores = models.JSONField(_("scores per split"), default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phase", "name"]
        constraints = [models.UniqueConstraint(fields=["phase", "name"], name="baseline_name_once_per_phase")]
        verbose_name = _("baseline")
        verbose_name_plural = _("baselines")

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """Entrants competing together in one competition; others join with the invite code.

    A disqualified team keeps its rows (for the audit) but leaves every leaderboard.
    """

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("team name"), max_length=100)
    invite_code = models.CharField(_("invite code"), max_length=32, unique=True)
    size_limit = models.PositiveSmallIntegerField(_("largest size"), validators=[MinValueValidator(1)])
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="competition_teams",
        verbose_name=_("organisation"),
        help_text=_("The startup or institute the team enters for, if any."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", through_fields=("team", "user"), related_name="teams"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    disqualified = models.BooleanField(_("disqualified"), default=False)
    disqualified_reason = models.TextField(_("reason for disqualification"), blank=True)

    class Meta:
        ordering = ["competition", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "name"],
                name="team_name_once_per_competition",
                violation_error_message=_("A team of this name already takes part."),
            ),
            models.CheckConstraint(condition=Q(size_limit__gte=1), name="team_size_limit_positive"),
            models.CheckConstraint(
                condition=Q(disqualified=False) | ~Q(disqualified_reason=""), name="team_disqualified_has_reason"
            ),
        ]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """An entrant in a team. `competition` repeats the team's so that the database itself keeps an
    entrant to one team per competition."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "joined_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "user"],
                name="team_membership_one_team_per_competition",
                violation_error_message=_("You are already in a team of this competition."),
            ),
        ]
        verbose_name = _("team member")
        verbose_name_plural = _("team members")

    def __str__(self) -> str:
        return f"{self.user} @ {self.team}"


class RulesAcceptance(models.Model):
    """An entrant's acceptance of a competition's rules, needed before its data is downloaded or a team
    formed or joined. `revision` is the competition's revision the entrant read (rules may change later)."""

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="rules_acceptances")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="competition_rules_acceptances"
    )
    revision = models.PositiveIntegerField(_("revision accepted"))
    accepted_at = models.DateTimeField(_("accepted"), default=timezone.now)

    class Meta:
        ordering = ["competition", "accepted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["competition", "user"], name="rules_acceptance_once_per_user"),
        ]
        verbose_name = _("acceptance of the rules")
        verbose_name_plural = _("acceptances of the rules")

    def __str__(self) -> str:
        return f"{self.user} @ {self.competition}"


def submission_path(instance: Submission, filename: str) -> str:
    """Unguessable, and free of the entrant's file name (kept in the row)."""
    return f"competitions/submissions/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class Submission(models.Model):
    """One entry of a team to a phase, from upload to score (or failure).

    Status only moves forward: received → queued → running → scored, failed or cancelled.
    `counts_against_quota` is False once a platform failure or a cancellation gave the slot back.
    `public_score`/`private_score` are the primary metric on each split, copied out of `scores` so that
    leaderboards rank in SQL.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SCORED = "scored", _("Scored")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    # How far along each status is; an event may only move a submission to a later step.
    STEP: dict[str, int] = {
        Status.RECEIVED: 0,
        Status.QUEUED: 1,
        Status.RUNNING: 2,
        Status.SCORED: 3,
        Status.FAILED: 3,
        Status.CANCELLED: 3,
    }
    FINAL = (Status.SCORED, Status.FAILED, Status.CANCELLED)

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="submissions")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="submissions")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Phase.Kind.choices)
    file = models.FileField(upload_to=submission_path, storage=private_storage, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    description = models.CharField(_("description"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    job_id = models.CharField(max_length=64, blank=True)
    # A host's rescore starts the next round: the scorer makes a new job, and events of the earlier
    # rounds' jobs (retired) change nothing any more.
    scoring_round = models.PositiveSmallIntegerField(_("scoring round"), default=1)
    retired_job_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_reason = models.TextField(_("why it failed"), blank=True)
    platform_failure = models.BooleanField(_("failed through the platform's fault"), default=False)
    log_tail = models.TextField(_("end of the log"), blank=True)
    scores = models.JSONField(_("scores per split"), default=dict, blank=True)
    public_score = models.FloatField(null=True, blank=True)
    private_score = models.FloatField(null=True, blank=True)
    primary_ci = models.JSONField(_("confidence interval of the primary metric"), null=True, blank=True)
    compute = models.JSONField(_("compute used"), default=dict, blank=True)
    reproducibility = models.JSONField(default=dict, blank=True)
    quota_day = models.DateField(_("counted on"))
    counts_against_quota = models.BooleanField(default=True)
    selected_for_final = models.BooleanField(_("selected for the final ranking"), default=False)
    hidden = models.BooleanField(_("hidden from leaderboards"), default=False)
    hidden_reason = models.TextField(_("why it is hidden"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["received", "queued", "running", "scored", "failed", "cancelled"]),
                name="submission_status_known",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="submission_progress_percent"),
            models.CheckConstraint(condition=Q(hidden=False) | ~Q(hidden_reason=""), name="submission_hidden_reason"),
            models.CheckConstraint(
                condition=Q(selected_for_final=False) | Q(status="scored"), name="submission_selected_is_scored"
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""), name="submission_failed_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["phase", "team", "-created_at"], name="submission_team_recent"),
            models.Index(fields=["phase", "status", "created_at"], name="submission_phase_status"),
        ]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")

    def __str__(self) -> str:
        return f"#{self.pk} {self.team} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class QuotaDay(models.Model):
    """How many submissions a team has used in a phase on one day (the site's time zone).

    submission_create locks the team's rows for the phase (SELECT … FOR UPDATE) before taking a slot, so
    two uploads racing for the last one are served one after the other. A slot given back (platform failure,
    cancellation) is taken off the day it was counted on.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="quota_days")
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="quota_days")
    day = models.DateField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["phase", "team", "day"]
        constraints = [
            models.UniqueConstraint(fields=["team", "phase", "day"], name="quota_day_once"),
            models.CheckConstraint(condition=Q(used__gte=0), name="quota_day_used_not_negative"),
        ]
        verbose_name = _("quota day")
        verbose_name_plural = _("quota days")

    def __str__(self) -> str:
        return f"{self.team} {self.day}: {self.used}"


class LeaderboardEntry(models.Model):
    """A team's best visible submission on one split of a phase: the rows leaderboards page through.

    Kept by the services whenever a team's submissions are scored, hidden or selected (services
    leaderboard_refresh_team), so a page is read along the index in rank order without looking at
    submissions. `rank_key` is the score signed so that larger is better whatever the metric's direction.
    """

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="leaderboard_entries")
    split = models.CharField(max_length=10, choices=[(s, s) for s in SPLITS])
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="leaderboard_entries")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    rank_key = models.FloatField()
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    submitted_at = models.DateTimeField()
    entries = models.PositiveIntegerField(default=1, help_text=_("Scored submissions of the team in the phase."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phase", "split", "team"], name="leaderboard_entry_once_per_team"),
        ]
        indexes = [
            # The rank order itself: a page is the next `size` index entries.
            models.Index(fields=["phase", "split", "-rank_key", "submitted_at", "submission"], name="leaderboard_rank"),
        ]
        verbose_name = _("leaderboard entry")
        verbose_name_plural = _("leaderboard entries")

    def __str__(self) -> str:
        return f"{self.phase} {self.split}: {self.team} {self.score}"


class AuditEntry(models.Model):
    """A host's action that changed what entrants see or are ranked on: who, what, why, when."""

    class Action(models.TextChoices):
        SUBMISSION_HIDDEN = "submission_hidden", _("Submission hidden")
        SUBMISSION_SHOWN = "submission_shown", _("Submission shown again")
        TEAM_DISQUALIFIED = "team_disqualified", _("Team disqualified")
        PHASE_CLOSED = "phase_closed", _("Phase closed")
        SCORING_CHANGED = "scoring_changed", _("Scoring configuration changed")
        HIDDEN_DATA_REPLACED = "hidden_data_replaced", _("Hidden test data replaced")
        SUBMISSION_RESCORED = "submission_rescored", _("Submission sent to be scored again")

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["competition", "-created_at"], name="audit_competition_recent")]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.created_at:%Y-%m-%d %H:%M})"

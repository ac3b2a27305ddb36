"""Every write to competitions, phases, teams and submissions: one function, one transaction, its events
published inside it.

Refusals are named exceptions: `NotPermitted` (a 403: the actor may not do this at all) and the
`Refused` family, whose message the user can act on, whose `errors` name the fields concerned (views
show them as form errors) and whose `code` is stable for API clients. Drafts publish nothing.

Locks are always taken in one order: competition or phase, then submission, then team, then the
team's quota rows; so two writers never wait on each other in a cycle.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from competitions import datasets
from competitions.events import (
    CompetitionPublished,
    CompetitionUpdated,
    LeaderboardUpdated,
    PhaseClosed,
    SubmissionFailed,
    SubmissionReceived,
    SubmissionScored,
)
from competitions.live import leaderboard_changed, submission_changed
from competitions.models import (
    SPLIT_PRIVATE,
    SPLIT_PUBLIC,
    SPLITS,
    AuditEntry,
    Baseline,
    Competition,
    DataFile,
    LeaderboardEntry,
    Phase,
    QuotaDay,
    RulesAcceptance,
    Submission,
    Team,
    TeamMembership,
)
from competitions.selectors import HOST_ROLES, is_host, is_team_member, leaderboard
from hub.accounts.models import Membership, Organisation, User
from hub.events.publish import publish
from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringConfigError, ScoringFailed
from services.scorer.events import JobFailed, JobFinished, JobProgress, JobQueued, JobStarted
from services.scorer.hidden import predictions_check

log = logging.getLogger(__name__)

Status = Competition.Status
SubmissionStatus = Submission.Status

COMPETITION_FIELDS = (
    "slug",
    "title",
    "title_en",
    "description",
    "description_en",
    "rules",
    "rules_en",
    "prizes",
    "max_team_size",
)
# What entrants need before a competition may be announced (drafts may lack any but slug and title).
PUBLISH_REQUIRED = ("title", "description", "rules")
# The status steps a host may take after publishing; each is a new version.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PUBLISHED: frozenset({Status.RUNNING, Status.FINISHED}),
    Status.RUNNING: frozenset({Status.FINISHED}),
    Status.FINISHED: frozenset({Status.ARCHIVED}),
}

PHASE_FIELDS = (
    "name",
    "name_en",
    "starts_at",
    "ends_at",
    "accepted_kinds",
    "resources",
    "time_limit_seconds",
    "memory_limit_bytes",
    "max_upload_bytes",
    "daily_limit",
    "total_limit",
    "final_selection_count",
    "public_fraction",
    "extra_columns",
)
# The file names each kind may carry; the content itself is the scorer's to check.
KIND_EXTENSIONS: dict[str, tuple[str, ...]] = {
    Phase.Kind.PREDICTIONS: (".csv", ".json"),
    Phase.Kind.ONNX: (".onnx",),
    Phase.Kind.PACKAGE: (".zip", ".tar", ".tar.gz", ".tgz"),
}
LOG_TAIL_CHARS = 20_000
LEADERBOARD_EVENT_TOP = 10
FINAL_RANKING_MAX = 1000


class NotPermitted(PermissionDenied):
    """The actor may not do this at all (not a host of the competition, not a member of the team): a 403."""


class Refused(Exception):
    """The write is not possible now; `message` tells the user why, `errors` maps fields to messages and
    `code` names the reason for API clients."""

    def __init__(
        self, message: str, *, code: str = "refused", errors: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.errors: dict[str, list[str]] = {
            field: [str(m) for m in messages] for field, messages in (errors or {}).items()
        }


class CompetitionRefused(Refused):
    """A competition cannot be saved, published or moved to that status."""


class PhaseRefused(Refused):
    """A phase cannot be saved or closed (bad window, unknown metric, already closed...)."""


class TeamRefused(Refused):
    """A team cannot be formed or joined (already in a team, team full, unknown invite code...)."""


class DataRefused(Refused):
    """A phase's data file was not accepted; `errors` carry the line-numbered problems."""


class SubmissionRefused(Refused):
    """A submission is not accepted or cannot take that step (wrong kind, too large, phase closed,
    over the limit...); nothing is stored."""


# --- competitions ------------------------------------------------------------------------------
def competition_create(*, host: Organisation, by: User, fields: Mapping[str, Any]) -> Competition:
    """Start a draft competition for `host`, by one of its competition hosts; slug and title are needed."""
    if not Membership.objects.filter(user=by, organisation=host, role__in=HOST_ROLES).exists():
        raise NotPermitted(_("Only the competition hosts of an organisation may create competitions for it."))
    with transaction.atomic():
        competition = Competition(host=host, created_by=by, status=Status.DRAFT)
        _assign(competition, fields, COMPETITION_FIELDS)
        _check(competition, CompetitionRefused, exclude=["host", "created_by"])
        try:
            with transaction.atomic():
                competition.save()
        except IntegrityError:  # another host took the slug a moment ago
            raise CompetitionRefused(
                _("This address is taken."), code="slug_taken", errors={"slug": [_("Choose another.")]}
            ) from None
    return competition


def competition_update(*, competition: Competition, by: User, fields: Mapping[str, Any]) -> Competition:
    """Change a competition. A draft just saves; a published one gets the next revision and tells the
    world (`updated`). Its address (slug) is fixed once published; a change that changes nothing is not
    a new version."""
    with transaction.atomic():
        competition = _lock_competition(competition, by=by)
        before = {name: getattr(competition, name) for name in COMPETITION_FIELDS}
        _assign(competition, fields, COMPETITION_FIELDS)
        if competition.status == Status.DRAFT:
            _check(competition, CompetitionRefused, exclude=["host", "created_by"])
            competition.save()
            return competition
        if competition.slug != before["slug"]:
            raise CompetitionRefused(
                _("The address of a published competition cannot change."),
                code="slug_fixed",
                errors={"slug": [_("Fixed once published.")]},
            )
        if all(getattr(competition, name) == value for name, value in before.items()):
            return competition
        _check(competition, CompetitionRefused, exclude=["host", "created_by"])
        _check_complete(competition, phases=False)  # phases are never removed: its texts are what may go
        _new_version(competition)
    return competition


def competition_publish(*, competition: Competition, by: User) -> Competition:
    """Announce a complete draft (version 1): it needs its texts and at least one phase."""
    with transaction.atomic():
        competition = _lock_competition(competition, by=by)
        if competition.status != Status.DRAFT:
            raise CompetitionRefused(_("This competition has already been published."), code="already_published")
        _check(competition, CompetitionRefused, exclude=["host", "created_by"])
        _check_complete(competition)
        competition.status = Status.PUBLISHED
        competition.published_at = timezone.now()
        competition.save()
        publish(CompetitionPublished.of(competition), key=competition.pk)
    return competition


def competition_set_status(*, competition: Competition, by: User, status: str) -> Competition:
    """Move a published competition along published → running → finished → archived (published may
    also finish directly); any other step is refused. Each step is a new version."""
    with transaction.atomic():
        competition = _lock_competition(competition, by=by)
        if status not in TRANSITIONS.get(competition.status, ()):
            raise CompetitionRefused(
                _("A competition that is “%(current)s” cannot become “%(wanted)s”.")
                % {"current": competition.get_status_display(), "wanted": _label(Status, status)},
                code="bad_transition",
            )
        competition.status = status
        _new_version(competition)
    return competition


def _lock_competition(competition: Competition, *, by: User) -> Competition:
    """The competition's row, locked for this transaction (so revisions never collide), if `by` hosts it."""
    locked = Competition.objects.select_for_update(of=("self",)).select_related("host").get(pk=competition.pk)
    if not is_host(user=by, competition=locked):
        raise NotPermitted(_("Only the hosts of this competition may do this."))
    return locked


def _check_complete(competition: Competition, *, phases: bool = True) -> None:
    errors = {name: [_("Required to publish.")] for name in PUBLISH_REQUIRED if not getattr(competition, name)}
    if phases and not competition.phases.exists():
        errors["phases"] = [_("Add at least one phase.")]
    if errors:
        raise CompetitionRefused(_("The competition is not ready to publish."), code="incomplete", errors=errors)


def _new_version(competition: Competition) -> None:
    """Save a published competition as its next revision and announce it (the row is locked)."""
    competition.revision += 1
    competition.save()
    publish(CompetitionUpdated.of(competition), key=competition.pk)


# --- phases --------------------------------------------------------------------------------------
def phase_create(*, competition: Competition, by: User, fields: Mapping[str, Any], scoring: Mapping[str, Any]) -> Phase:
    """Add a phase with its window, submission rules and scoring configuration (the scorer's
    ScoringConfig as a mapping; its first metric is the primary one). A published competition gets a
    new version, since its dates may have moved."""
    with transaction.atomic():
        competition = _lock_competition(competition, by=by)
        phase = Phase(competition=competition)
        _assign(phase, fields, PHASE_FIELDS)
        _apply_scoring(phase, scoring, extra_columns="extra_columns" in fields)
        _check_phase(phase)
        phase.save()
        if competition.status != Status.DRAFT:
            _new_version(competition)
    return phase


def phase_update(
    *, phase: Phase, by: User, fields: Mapping[str, Any], scoring: Mapping[str, Any] | None = None
) -> Phase:
    """Change an open phase's settings or scoring; a closed phase is final. A scoring change is written
    to the audit log (submissions scored before it keep their scores until rescored)."""
    with transaction.atomic():
        competition = _lock_competition(phase.competition, by=by)
        phase = Phase.objects.select_for_update(of=("self",)).get(pk=phase.pk)
        if phase.is_closed:
            raise PhaseRefused(_("A closed phase can no longer be changed."), code="phase_closed")
        before = phase.scoring_config
        _assign(phase, fields, PHASE_FIELDS)
        if scoring is not None:
            _apply_scoring(phase, scoring, extra_columns="extra_columns" in fields)
        elif "extra_columns" in fields:
            _apply_scoring(phase, phase.scoring_config, extra_columns=True)
        _check_phase(phase)
        phase.save()
        if phase.scoring_config != before:
            AuditEntry.objects.create(
                competition=competition,
                actor=by,
                action=AuditEntry.Action.SCORING_CHANGED,
                phase=phase,
                details={"before": before, "after": phase.scoring_config},
            )
        if competition.status != Status.DRAFT:
            _new_version(competition)
    return phase


def _apply_scoring(phase: Phase, scoring: Mapping[str, Any], *, extra_columns: bool) -> None:
    """Validate the scoring configuration against the scorer's metric registry and copy out what
    leaderboards rank on. The leaderboard's interval is the public split's unless the host names one."""
    data = dict(scoring)
    data["leaderboard_split"] = data.get("leaderboard_split") or SPLIT_PUBLIC
    try:
        config = ScoringConfig.from_dict(data)
    except (ScoringConfigError, TypeError) as exc:
        raise PhaseRefused(
            _("The scoring configuration is not valid: %(problem)s") % {"problem": exc},
            code="scoring_invalid",
            errors={"scoring_config": [str(exc)]},
        ) from None
    phase.scoring_config = config.to_dict()
    phase.primary_metric = config.primary
    phase.higher_is_better = config.metric_meta(config.primary)[0]
    if not extra_columns:
        phase.extra_columns = list(config.metrics[1:])
    unknown = [name for name in phase.extra_columns if name not in config.metrics[1:]]
    if unknown:
        raise PhaseRefused(
            _("Extra columns must be metrics of the configuration other than the primary one: %(names)s")
            % {"names": ", ".join(unknown)},
            code="scoring_invalid",
            errors={"extra_columns": [_("Not a secondary metric: %(names)s") % {"names": ", ".join(unknown)}]},
        )


def _check_phase(phase: Phase) -> None:
    errors: dict[str, list[str]] = {}
    kinds = list(phase.accepted_kinds or [])
    if not kinds or any(kind not in Phase.Kind.values for kind in kinds):
        errors["accepted_kinds"] = [_("Choose one or more of the submission kinds offered.")]
    else:
        phase.accepted_kinds = sorted(set(kinds))
    if phase.starts_at and phase.ends_at and phase.ends_at <= phase.starts_at:
        errors["ends_at"] = [_("The phase must close after it opens.")]
    if errors:
        raise PhaseRefused(_("Please correct the marked fields."), code="invalid", errors=errors)
    _check(phase, PhaseRefused, exclude=["competition"])


def phase_hidden_data_upload(
    *, phase: Phase, by: User, labels: UploadedFile, inputs: UploadedFile | None = None
) -> list[DataFile]:
    """Set a phase's hidden test set: labels (`id,label[,split]`, checked line by line, split into the
    public and private parts when the file does not say) and, for models and code, the inputs (.npz of
    `id` and `x` with exactly the labels' ids). Replaces the earlier set (audit log); a refused upload
    (DataRefused with line-numbered errors) leaves the earlier set as it was."""
    if not is_host(user=by, competition=phase.competition):
        raise NotPermitted(_("Only the competition's hosts may do this."))  # before reading a byte of the files
    config = ScoringConfig.from_dict(phase.scoring_config)
    try:
        checked = datasets.labels_check(
            data=_read_all(labels), config=config, seed=phase.pk, public_fraction=phase.public_fraction
        )
    except datasets.DatasetInvalid as invalid:
        raise _data_refused(invalid, field="labels") from None
    try:
        rows = datasets.inputs_check(data=_read_all(inputs), ids=checked.ids) if inputs is not None else None
    except datasets.DatasetInvalid as invalid:
        raise _data_refused(invalid, field="inputs") from None
    if inputs is None and set(phase.accepted_kinds) - {Phase.Kind.PREDICTIONS}:
        raise DataRefused(
            _("Models and code packages need the hidden inputs to run on; upload them with the labels."),
            code="inputs_missing",
            errors={"inputs": [_("Required for the kinds this phase accepts.")]},
        )
    files = [(DataFile.Role.HIDDEN_LABELS, labels.name or "labels.csv", ContentFile(checked.to_csv()))]
    if inputs is not None:
        inputs.seek(0)
        files.append((DataFile.Role.HIDDEN_INPUTS, inputs.name or "inputs.npz", ContentFile(inputs.read())))
    with transaction.atomic():
        competition = _lock_competition(phase.competition, by=by)
        phase = Phase.objects.select_for_update(of=("self",)).get(pk=phase.pk)
        if phase.is_closed:
            raise DataRefused(_("A closed phase's data can no longer be changed."), code="phase_closed")
        old = list(
            DataFile.objects.filter(phase=phase, role__in=[DataFile.Role.HIDDEN_LABELS, DataFile.Role.HIDDEN_INPUTS])
        )
        for data_file in old:
            data_file.delete()
        storage = DataFile.file.field.storage
        for data_file in old:
            storage.delete(str(data_file.file.name))  # a fixed name per role: the new file takes its place
        stored = [
            _data_file_save(phase=phase, role=role, name=name, content=content, by=by) for role, name, content in files
        ]
        AuditEntry.objects.create(
            competition=competition,
            actor=by,
            action=AuditEntry.Action.HIDDEN_DATA_REPLACED,
            phase=phase,
            details={
                "rows": len(checked.rows),
                "splits": checked.counts,
                "inputs": rows,
                "sha256": [f.sha256 for f in stored],
            },
        )
    return stored


SCORING_PROGRAM_MAX_BYTES = 1024 * 1024


def phase_scoring_program_upload(*, phase: Phase, by: User, program: UploadedFile) -> DataFile:
    """Set the phase's scoring program: one Python file that the scorer runs in the sandbox as
    `score.py predictions.csv labels.csv` and that prints one JSON object of the configuration's custom
    metrics (see services.scorer.runners.program_scores). It must be UTF-8 Python that compiles; it
    replaces the earlier one (audit log) and, like the hidden data, no URL or event ever names it."""
    if not is_host(user=by, competition=phase.competition):
        raise NotPermitted(_("Only the competition's hosts may do this."))
    source = _read_all(program)
    problem = None
    if not (program.name or "").lower().endswith(".py"):
        problem = _("The scoring program must be one Python file (.py).")
    elif not source or len(source) > SCORING_PROGRAM_MAX_BYTES:
        problem = _("The scoring program must hold between 1 byte and 1 MiB.")
    else:
        try:
            compile(source.decode("utf-8"), "score.py", "exec")
        except UnicodeDecodeError:
            problem = _("The scoring program is not UTF-8 text.")
        except SyntaxError as error:
            problem = _("Line %(line)s: %(problem)s") % {"line": error.lineno, "problem": error.msg}
    if problem:
        raise DataRefused(problem, code="program_invalid", errors={"program": [problem]})
    with transaction.atomic():
        competition = _lock_competition(phase.competition, by=by)
        phase = Phase.objects.select_for_update(of=("self",)).get(pk=phase.pk)
        if phase.is_closed:
            raise DataRefused(_("A closed phase's data can no longer be changed."), code="phase_closed")
        for data_file in DataFile.objects.filter(phase=phase, role=DataFile.Role.SCORING_PROGRAM):
            data_file.delete()
            DataFile.file.field.storage.delete(str(data_file.file.name))
        stored = _data_file_save(
            phase=phase, role=DataFile.Role.SCORING_PROGRAM, name="score.py", content=ContentFile(source), by=by
        )
        AuditEntry.objects.create(
            competition=competition,
            actor=by,
            action=AuditEntry.Action.SCORING_CHANGED,
            phase=phase,
            details={"scoring_program_sha256": stored.sha256},
        )
    return stored


def baseline_set(
    *,
    phase: Phase,
    by: User,
    name: str,
    scores: Mapping[str, Mapping[str, float]],
    name_en: str = "",
    description: str = "",
) -> Baseline:
    """Show a reference entry (a host's own model, a simple heuristic) on the phase's leaderboards with its
    scores per split; setting a name again replaces its scores."""
    with transaction.atomic():
        _lock_competition(phase.competition, by=by)
        baseline, _created = Baseline.objects.update_or_create(
            phase=phase,
            name=name.strip(),
            defaults={
                "name_en": name_en,
                "description": description,
                "scores": {k: dict(v) for k, v in scores.items()},
            },
        )
    return baseline


def phase_training_file_add(*, phase: Phase, by: User, upload: UploadedFile, description: str = "") -> DataFile:
    """Add a file entrants may download once they accepted the rules (training data, a baseline, a starter)."""
    if not upload.size:
        raise DataRefused(_("The file is empty."), code="empty", errors={"file": [_("The file is empty.")]})
    with transaction.atomic():
        _lock_competition(phase.competition, by=by)
        return _data_file_save(
            phase=phase,
            role=DataFile.Role.TRAINING,
            name=upload.name or "data",
            content=upload,
            by=by,
            description=description,
        )


def _data_file_save(*, phase: Phase, role: str, name: str, content: Any, by: User, description: str = "") -> DataFile:
    digest = hashlib.sha256()
    content.seek(0)
    for chunk in content.chunks():
        digest.update(chunk)
    content.seek(0)
    data_file = DataFile(
        phase=phase,
        role=role,
        original_name=PurePath(name).name[-255:],
        description=description,
        size=content.size,
        sha256=digest.hexdigest(),
        uploaded_by=by,
    )
    data_file.file.save(name, content, save=False)
    data_file.save()
    return data_file


def _data_refused(invalid: datasets.DatasetInvalid, *, field: str) -> DataRefused:
    return DataRefused(
        _("The hidden data was not accepted: %(first)s") % {"first": invalid.errors[0]},
        code="hidden_data_invalid",
        errors={field: invalid.errors},
    )


def _read_all(upload: UploadedFile) -> bytes:
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data


# --- teams -----------------------------------------------------------------------------------------
def team_create(*, competition: Competition, by: User, name: str, organisation: Organisation | None = None) -> Team:
    """Form a team in an open competition whose rules `by` accepted, with `by` as its first member and an
    invite code for the others. An entrant is in one team per competition; `organisation` must be one of
    theirs."""
    name = name.strip()
    if organisation is not None and not Membership.objects.filter(user=by, organisation=organisation).exists():
        raise NotPermitted(_("A team can only enter for an organisation its founder belongs to."))
    with transaction.atomic():
        competition = Competition.objects.get(pk=competition.pk)
        _check_entry_open(competition)
        if TeamMembership.objects.filter(competition=competition, user=by).exists():
            raise TeamRefused(_("You are already in a team of this competition."), code="already_in_team")
        _check_rules_accepted(competition, by)
        team = Team(
            competition=competition,
            name=name,
            invite_code=secrets.token_urlsafe(12),
            size_limit=competition.max_team_size,
            organisation=organisation,
            created_by=by,
        )
        _check(team, TeamRefused, exclude=["competition", "organisation", "created_by"], constraints=False)
        try:
            with transaction.atomic():
                team.save()
                TeamMembership.objects.create(team=team, user=by, competition=competition)
        except IntegrityError as exc:
            raise _team_integrity(exc) from None
    return team


def team_join(*, invite_code: str, by: User) -> Team:
    """Join the team whose invite code this is, while its competition is open, the entrant accepted its
    rules and is in no other team of it, and the team has room."""
    with transaction.atomic():
        # Locked: two entrants taking the last place are served one after the other.
        team = (
            Team.objects.select_for_update(of=("self",))
            .select_related("competition")
            .filter(invite_code=invite_code.strip())
            .first()
        )
        if team is None:
            raise TeamRefused(_("No team has this invite code."), code="bad_invite_code")
        _check_entry_open(team.competition)
        if team.disqualified:
            raise TeamRefused(_("This team has been disqualified."), code="team_disqualified")
        if TeamMembership.objects.filter(competition=team.competition, user=by).exists():
            raise TeamRefused(_("You are already in a team of this competition."), code="already_in_team")
        _check_rules_accepted(team.competition, by)
        if team.memberships.count() >= team.size_limit:
            raise TeamRefused(
                _("This team is full (at most %(count)d members).") % {"count": team.size_limit}, code="team_full"
            )
        try:
            with transaction.atomic():
                TeamMembership.objects.create(team=team, user=by, competition=team.competition)
        except IntegrityError as exc:
            raise _team_integrity(exc) from None
    return team


def rules_accept(*, competition: Competition, by: User) -> RulesAcceptance:
    """Record that `by` accepted a public competition's rules as they read now (its current revision);
    accepting again keeps the first acceptance. Entrants accept before downloading data or entering."""
    with transaction.atomic():
        competition = Competition.objects.get(pk=competition.pk)
        if not competition.is_public:
            raise NotPermitted(_("This competition is not published."))
        acceptance, _created = RulesAcceptance.objects.get_or_create(
            competition=competition, user=by, defaults={"revision": competition.revision}
        )
    return acceptance


def _check_rules_accepted(competition: Competition, user: User) -> None:
    """Entrants accept a competition's rules before they enter it (form or join a team)."""
    if not RulesAcceptance.objects.filter(competition=competition, user=user).exists():
        raise TeamRefused(
            _("Accept the rules of %(competition)s before you enter a team.") % {"competition": competition.title},
            code="rules_not_accepted",
        )


def _check_entry_open(competition: Competition) -> None:
    if competition.status not in Competition.OPEN:
        raise TeamRefused(_("This competition is not taking entrants."), code="competition_closed")


def _team_integrity(exc: IntegrityError) -> TeamRefused:
    """The constraint a racing writer hit, as the refusal the user would have got a moment later."""
    if "team_name_once_per_competition" in str(exc):
        return TeamRefused(
            _("A team of this name already takes part."), code="name_taken", errors={"name": [_("Choose another.")]}
        )
    return TeamRefused(_("You are already in a team of this competition."), code="already_in_team")


# --- submissions -------------------------------------------------------------------------------------
def submission_create(
    *, phase: Phase, team: Team, upload: UploadedFile, kind: str, by: User, description: str = ""
) -> Submission:
    """Accept one submission, or raise SubmissionRefused (NotPermitted for a non-member) and store nothing.

    The cheap checks come first (kind, file name, size, the phase's window, membership); then the team's
    quota rows for the phase are locked and one slot is taken for today (the site's time zone), so that
    two uploads racing for the last slot get exactly one acceptance. The file goes to private storage
    with its SHA-256, and `competitions.submission.received.v1` tells the scorer.
    """
    phase = Phase.objects.select_related("competition").get(pk=phase.pk)
    _check_upload(phase=phase, upload=upload, kind=kind)
    if team.competition_id != phase.competition_id or not is_team_member(user=by, team=team):
        raise NotPermitted(_("Only members of the team may submit for it."))
    _check_phase_open(phase)
    if team.disqualified:
        raise SubmissionRefused(_("This team has been disqualified."), code="team_disqualified")
    digest = _sha256(upload)
    stored: list[str] = []
    try:
        with transaction.atomic():
            # A share lock: submissions do not wait for each other, but phase_close waits for them (and
            # they, once it has closed the phase, see it closed).
            with connection.cursor() as cursor:
                cursor.execute("SELECT closed_at, ends_at FROM competitions_phase WHERE id = %s FOR SHARE", [phase.pk])
                phase.closed_at, phase.ends_at = cursor.fetchone()
            _check_phase_open(phase)
            today = _quota_take(phase=phase, team=team)
            submission = Submission(
                phase=phase,
                team=team,
                submitted_by=by,
                kind=kind,
                original_name=PurePath(upload.name or "submission").name[-255:],
                sha256=digest,
                size=upload.size or 0,
                description=description.strip()[:500],
                quota_day=today,
            )
            submission.file.save(upload.name or "submission", upload, save=False)
            stored.append(str(submission.file.name))
            submission.save()
            publish(SubmissionReceived.of(submission), key=submission.pk)
    except BaseException:
        # The row is rolled back; the file written for it must go too.
        for name in stored:
            Submission.file.field.storage.delete(name)
        raise
    return submission


def _check_upload(*, phase: Phase, upload: UploadedFile, kind: str) -> None:
    if kind not in phase.accepted_kinds:
        accepted = ", ".join(str(Phase.Kind(k).label) for k in phase.accepted_kinds)
        raise SubmissionRefused(
            _("This phase does not take that kind of submission; it takes: %(kinds)s.") % {"kinds": accepted},
            code="kind_not_accepted",
            errors={"kind": [_("Not accepted in this phase.")]},
        )
    name = (upload.name or "").lower()
    if not name.endswith(KIND_EXTENSIONS[kind]):
        raise SubmissionRefused(
            _("A %(kind)s must be a file ending in %(extensions)s.")
            % {"kind": Phase.Kind(kind).label, "extensions": ", ".join(KIND_EXTENSIONS[kind])},
            code="wrong_extension",
            errors={"file": [_("Wrong file type.")]},
        )
    size = upload.size or 0
    if size == 0:
        raise SubmissionRefused(_("The file is empty."), code="empty", errors={"file": [_("The file is empty.")]})
    if size > phase.max_upload_bytes:
        raise SubmissionRefused(
            _("The file is larger than this phase allows (%(limit)s bytes).") % {"limit": phase.max_upload_bytes},
            code="too_large",
            errors={"file": [_("Too large.")]},
        )
    if kind == Phase.Kind.PREDICTIONS:
        _check_predictions(phase=phase, upload=upload)


def _check_predictions(*, phase: Phase, upload: UploadedFile) -> None:
    """A predictions file is checked now, as scoring would check it, so a broken one never takes a slot."""
    with tempfile.TemporaryDirectory(prefix="wanzhi-upload-") as directory:
        path = Path(directory) / ("predictions" + PurePath(upload.name or "").suffix.lower())
        with path.open("wb") as copy:
            for chunk in upload.chunks():
                copy.write(chunk)
        upload.seek(0)
        try:
            predictions_check(path=path, phase_id=phase.pk, config=ScoringConfig.from_dict(phase.scoring_config))
        except ScoringFailed as failure:
            if failure.platform_failure:
                raise SubmissionRefused(
                    _("This phase cannot score submissions yet; the host has been told."), code="not_ready"
                ) from None
            raise SubmissionRefused(
                _("The predictions file cannot be scored: %(reason)s") % {"reason": failure.reason},
                code=failure.code,
                errors={"file": [failure.reason]},
            ) from None


def _check_phase_open(phase: Phase) -> None:
    now = timezone.now()
    if phase.competition.status not in Competition.OPEN or phase.closed_at is not None or now >= phase.ends_at:
        raise SubmissionRefused(_("This phase no longer takes submissions."), code="phase_closed")
    if now < phase.starts_at:
        raise SubmissionRefused(_("This phase has not opened yet."), code="phase_not_open")


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _quota_take(*, phase: Phase, team: Team) -> datetime.date:
    """Take one of the team's slots for today, under a lock on its quota rows for the phase; returns the
    day counted on. Refuses when the daily or the total limit is reached."""
    today = timezone.localdate()
    QuotaDay.objects.bulk_create([QuotaDay(team=team, phase=phase, day=today)], ignore_conflicts=True)
    # Every day's row, in one order: the total is then exact, and two takers cannot deadlock.
    days = list(QuotaDay.objects.select_for_update().filter(team=team, phase=phase).order_by("day"))
    current = next(row for row in days if row.day == today)
    if current.used >= phase.daily_limit:
        raise SubmissionRefused(
            _("Your team has used its %(count)d submissions for today.") % {"count": phase.daily_limit},
            code="daily_limit",
        )
    if phase.total_limit is not None and sum(row.used for row in days) >= phase.total_limit:
        raise SubmissionRefused(
            _("Your team has used all %(count)d submissions of this phase.") % {"count": phase.total_limit},
            code="total_limit",
        )
    current.used += 1
    current.save(update_fields=["used"])
    return today


def _quota_give_back(submission: Submission) -> None:
    """Return a slot that should not have counted (a platform failure, a cancellation); once only."""
    if not submission.counts_against_quota:
        return
    submission.counts_against_quota = False
    QuotaDay.objects.filter(
        team_id=submission.team_id, phase_id=submission.phase_id, day=submission.quota_day, used__gt=0
    ).update(used=F("used") - 1)


def submission_cancel(*, submission: Submission, by: User) -> Submission:
    """A team member withdraws a submission that has not started running; its slot is given back."""
    with transaction.atomic():
        submission = _lock_submission(submission)
        if not is_team_member(user=by, team=submission.team):
            raise NotPermitted(_("Only members of the team may do this."))
        if submission.status not in (SubmissionStatus.RECEIVED, SubmissionStatus.QUEUED):
            raise SubmissionRefused(_("Only a submission that has not started can be cancelled."), code="started")
        submission.status = SubmissionStatus.CANCELLED
        submission.finished_at = timezone.now()
        _quota_give_back(submission)
        submission.save()
        submission_changed(submission)
    return submission


def submission_record_job_event(
    *, event: JobQueued | JobStarted | JobProgress | JobFinished | JobFailed
) -> Submission | None:
    """Apply one of the scorer's job events to its submission; status only ever moves forward, so a late
    or repeated event changes nothing. Scored: scores, interval and compute are kept and the team's
    leaderboard entries refreshed. Failed: the reason and log are kept; a platform failure gives the slot
    back. Returns the submission, or None for one this database does not have."""
    with transaction.atomic():
        submission = _lock_submission(submission_id=event.submission_id)
        if submission is None:
            # Not ours to retry: a submission exists before its job does, so it will never appear.
            log.warning("job event for an unknown submission", extra={"submission_id": event.submission_id})
            return None
        if event.job_id in submission.retired_job_ids:
            log.info("job event of an earlier scoring round", extra={"submission_id": submission.pk})
            return submission
        if submission.is_final:
            log.info(
                "job event after the submission ended",
                extra={"submission_id": submission.pk, "type": event.type_name, "status": submission.status},
            )
            return submission
        now = timezone.now()
        submission.job_id = event.job_id  # known from the first event on: a rescore retires it
        if isinstance(event, JobQueued):
            _advance(submission, SubmissionStatus.QUEUED)
        elif isinstance(event, JobStarted):
            _advance(submission, SubmissionStatus.RUNNING)
            submission.started_at = submission.started_at or now
        elif isinstance(event, JobProgress):
            _advance(submission, SubmissionStatus.RUNNING)
            submission.progress = max(submission.progress, min(max(event.percent, 0), 100))
        elif isinstance(event, JobFinished):
            _record_scores(submission, event)
            submission.finished_at = now
        else:
            submission.status = SubmissionStatus.FAILED
            submission.failure_code = event.code
            submission.failure_reason = event.reason
            submission.platform_failure = event.platform_failure
            submission.log_tail = event.log_tail[-LOG_TAIL_CHARS:]
            submission.finished_at = now
            if event.platform_failure:
                _quota_give_back(submission)
        submission.save()
        submission_changed(submission)
        if submission.status == SubmissionStatus.SCORED:
            _leaderboard_refresh(phase=submission.phase, team=submission.team)
            publish(SubmissionScored.of(submission), key=submission.pk)
        elif submission.status == SubmissionStatus.FAILED:
            publish(SubmissionFailed.of(submission), key=submission.pk)
    return submission


def _advance(submission: Submission, status: str) -> None:
    if Submission.STEP[status] > Submission.STEP[submission.status]:
        submission.status = status


def _record_scores(submission: Submission, event: JobFinished) -> None:
    phase = submission.phase
    submission.status = SubmissionStatus.SCORED
    submission.progress = 100
    submission.scores = event.scores
    submission.primary_ci = event.primary_ci
    submission.public_score = event.scores.get(SPLIT_PUBLIC, {}).get(phase.primary_metric)
    submission.private_score = event.scores.get(SPLIT_PRIVATE, {}).get(phase.primary_metric)
    submission.compute = {
        "device_kind": event.device["kind"],
        "device_id": event.device["id"],
        "wall_seconds": event.wall_seconds,
        "cpu_seconds": event.cpu_seconds,
        "peak_memory_bytes": event.peak_memory_bytes,
    }
    submission.reproducibility = event.reproducibility
    submission.job_id = event.job_id


def submission_select_final(*, submission: Submission, by: User, selected: bool = True) -> Submission:
    """A team member picks (or drops) a scored submission for the final, private ranking, within the
    phase's final-selection count, until the phase closes. A team that picks none is ranked by its best
    public submissions, as many as it could have picked."""
    with transaction.atomic():
        submission = _lock_submission(submission)
        if not is_team_member(user=by, team=submission.team):
            raise NotPermitted(_("Only members of the team may do this."))
        phase = submission.phase
        if phase.is_closed:
            raise SubmissionRefused(_("The phase is closed; the final selection is fixed."), code="phase_closed")
        if selected and submission.status != SubmissionStatus.SCORED:
            raise SubmissionRefused(_("Only a scored submission can be selected."), code="not_scored")
        # The team's row serialises two members selecting at once.
        Team.objects.select_for_update(of=("self",)).filter(pk=submission.team_id).get()
        if selected and not submission.selected_for_final:
            count = Submission.objects.filter(phase=phase, team_id=submission.team_id, selected_for_final=True).count()
            if count >= phase.final_selection_count:
                raise SubmissionRefused(
                    _("Your team may select at most %(count)d submissions; drop one first.")
                    % {"count": phase.final_selection_count},
                    code="selection_full",
                )
        submission.selected_for_final = selected
        submission.save(update_fields=["selected_for_final"])
        _leaderboard_refresh(phase=phase, team=submission.team)
    return submission


def submission_rescore(*, submission: Submission, by: User, reason: str) -> Submission:
    """Send a scored or failed submission to be scored again (after the host fixed the hidden data or the
    scoring): it starts the next scoring round as received, leaves the leaderboards until its new score
    arrives, and its earlier job's events are ignored from now on. Takes no quota; written to the audit log.
    A final selection is dropped (only scored submissions can be selected)."""
    with transaction.atomic():
        competition = _lock_competition(submission.phase.competition, by=by)
        phase = Phase.objects.select_for_update(of=("self",)).get(pk=submission.phase_id)
        submission = _lock_submission(submission)
        _rescore(submission, phase=phase, competition=competition, by=by, reason=reason)
    return submission


def phase_rescore(*, phase: Phase, by: User, reason: str) -> int:
    """Rescore every scored or failed submission of an open phase (see submission_rescore); returns how many."""
    with transaction.atomic():
        competition = _lock_competition(phase.competition, by=by)
        phase = Phase.objects.select_for_update(of=("self",)).get(pk=phase.pk)
        rescored = 0
        done = (SubmissionStatus.SCORED, SubmissionStatus.FAILED)
        for submission_id in phase.submissions.filter(status__in=done).order_by("id").values_list("id", flat=True):
            submission = _lock_submission(submission_id=submission_id)
            _rescore(submission, phase=phase, competition=competition, by=by, reason=reason)
            rescored += 1
    return rescored


def _rescore(submission: Submission, *, phase: Phase, competition: Competition, by: User, reason: str) -> None:
    if not reason.strip():
        raise SubmissionRefused(
            _("Say why it is rescored."), code="reason_missing", errors={"reason": [_("Required.")]}
        )
    if phase.is_closed:
        raise SubmissionRefused(_("A closed phase's ranking is final."), code="phase_closed")
    if submission.status not in (SubmissionStatus.SCORED, SubmissionStatus.FAILED):
        raise SubmissionRefused(_("Only a scored or failed submission can be scored again."), code="not_rescorable")
    was = {"status": submission.status, "scores": submission.scores, "failure_code": submission.failure_code}
    if submission.job_id:
        submission.retired_job_ids = [*submission.retired_job_ids, submission.job_id]
    submission.scoring_round += 1
    submission.status = SubmissionStatus.RECEIVED
    submission.job_id = ""
    submission.progress = 0
    submission.scores, submission.public_score, submission.private_score, submission.primary_ci = {}, None, None, None
    submission.failure_code = submission.failure_reason = submission.log_tail = ""
    submission.platform_failure = False
    submission.compute, submission.reproducibility = {}, {}
    submission.started_at = submission.finished_at = None
    submission.selected_for_final = False
    submission.save()
    AuditEntry.objects.create(
        competition=competition,
        actor=by,
        action=AuditEntry.Action.SUBMISSION_RESCORED,
        phase=phase,
        team=submission.team,
        submission=submission,
        reason=reason.strip(),
        details={"round": submission.scoring_round, "before": was},
    )
    publish(SubmissionReceived.of(submission), key=submission.pk)
    submission_changed(submission)
    _leaderboard_refresh(phase=phase, team=submission.team)


def submission_hide(*, submission: Submission, by: User, reason: str, hidden: bool = True) -> Submission:
    """A host takes a submission off the leaderboards (or shows it again), with a reason kept in the
    audit log; the team's entries are recomputed from its other submissions."""
    reason = reason.strip()
    if not reason:
        raise SubmissionRefused(_("Give a reason."), code="reason_missing", errors={"reason": [_("Required.")]})
    with transaction.atomic():
        submission = _lock_submission(submission)
        competition = submission.phase.competition
        if not is_host(user=by, competition=competition):
            raise NotPermitted(_("Only the hosts of this competition may do this."))
        if submission.hidden == hidden:
            return submission
        submission.hidden = hidden
        if hidden:
            submission.hidden_reason = reason
            submission.selected_for_final = False
        submission.save(update_fields=["hidden", "hidden_reason", "selected_for_final"])
        AuditEntry.objects.create(
            competition=competition,
            actor=by,
            action=AuditEntry.Action.SUBMISSION_HIDDEN if hidden else AuditEntry.Action.SUBMISSION_SHOWN,
            phase=submission.phase,
            team=submission.team,
            submission=submission,
            reason=reason,
        )
        _leaderboard_refresh(phase=submission.phase, team=submission.team)
    return submission


def submission_disqualify(*, submission: Submission, by: User, reason: str) -> Team:
    """A host disqualifies the team behind a submission (shared labels, several accounts...): the team
    leaves every leaderboard of the competition and may not submit again; the reason is audited."""
    reason = reason.strip()
    if not reason:
        raise SubmissionRefused(_("Give a reason."), code="reason_missing", errors={"reason": [_("Required.")]})
    with transaction.atomic():
        submission = _lock_submission(submission)
        competition = submission.phase.competition
        if not is_host(user=by, competition=competition):
            raise NotPermitted(_("Only the hosts of this competition may do this."))
        team = Team.objects.select_for_update(of=("self",)).get(pk=submission.team_id)
        if team.disqualified:
            return team
        team.disqualified = True
        team.disqualified_reason = reason
        team.save(update_fields=["disqualified", "disqualified_reason"])
        AuditEntry.objects.create(
            competition=competition,
            actor=by,
            action=AuditEntry.Action.TEAM_DISQUALIFIED,
            phase=submission.phase,
            team=team,
            submission=submission,
            reason=reason,
        )
        for phase in Phase.objects.filter(leaderboard_entries__team=team).distinct():
            _leaderboard_refresh(phase=phase, team=team)
    return team


def _lock_submission(submission: Submission | None = None, *, submission_id: int | None = None) -> Any:
    pk = submission.pk if submission is not None else submission_id
    assert pk is not None
    return (
        Submission.objects.select_for_update(of=("self",))
        .select_related("phase", "phase__competition", "team")
        .filter(pk=pk)
        .first()
    )


# --- leaderboards ----------------------------------------------------------------------------------
def _leaderboard_refresh(*, phase: Phase, team: Team) -> None:
    """Recompute a team's leaderboard entries in a phase from its submissions, and announce every
    visible leaderboard that changed. Reads only that team's submissions (at most its quota)."""
    team = Team.objects.select_for_update(of=("self",)).get(pk=team.pk)  # one refresh per team at a time
    scored: list[Mapping[str, Any]] = list(
        Submission.objects.filter(phase=phase, team=team, status=SubmissionStatus.SCORED, hidden=False).values(
            "id", "public_score", "private_score", "primary_ci", "created_at", "selected_for_final"
        )
    )
    sign = 1.0 if phase.higher_is_better else -1.0

    def best(rows: list[Mapping[str, Any]], split_field: str) -> Mapping[str, Any] | None:
        rows = [row for row in rows if row[split_field] is not None]
        # Best score first, then the earlier submission: the same order as the leaderboard index.
        return min(rows, key=lambda row: (-sign * row[split_field], row["created_at"], row["id"]), default=None)

    selected = [row for row in scored if row["selected_for_final"]]
    if not selected:
        by_public = sorted(
            (row for row in scored if row["public_score"] is not None),
            key=lambda row: (-sign * row["public_score"], row["created_at"], row["id"]),
        )
        selected = by_public[: phase.final_selection_count]
    chosen = {
        SPLIT_PUBLIC: best(scored, "public_score"),
        SPLIT_PRIVATE: best(selected, "private_score"),
    }
    current = {entry.split: entry for entry in LeaderboardEntry.objects.filter(phase=phase, team=team)}
    changed: list[str] = []
    for split in SPLITS:
        row = None if team.disqualified else chosen[split]
        entry = current.get(split)
        if row is None:
            if entry is not None:
                entry.delete()
                changed.append(split)
            continue
        score = row[f"{split}_score"]
        ci = row["primary_ci"] or {}
        ci_here = ci.get("split", SPLIT_PUBLIC) == split
        values = {
            "submission_id": row["id"],
            "score": score,
            "rank_key": sign * score,
            "ci_low": ci.get("low") if ci_here else None,
            "ci_high": ci.get("high") if ci_here else None,
            "submitted_at": row["created_at"],
            "entries": len(scored),
        }
        if entry is not None and all(getattr(entry, name) == value for name, value in values.items()):
            continue
        LeaderboardEntry.objects.update_or_create(phase=phase, split=split, team=team, defaults=values)
        changed.append(split)
    for split in changed:
        if split == SPLIT_PUBLIC or phase.is_closed:  # the private split stays secret until the close
            _announce_leaderboard(phase=phase, split=split)


def _announce_leaderboard(*, phase: Phase, split: str) -> None:
    page = leaderboard(phase=phase, split=split, page=1, size=LEADERBOARD_EVENT_TOP)
    publish(
        LeaderboardUpdated(
            phase_id=phase.pk,
            competition_id=phase.competition_id,
            split=split,
            metric=phase.primary_metric,
            higher_is_better=phase.higher_is_better,
            teams=page.total,
            top=[
                {
                    "rank": row.rank,
                    "team_id": row.team_id,
                    "team_name": row.team_name,
                    "organisation_id": row.organisation_id,
                    "score": row.score,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "submitted_at": row.submitted_at.isoformat(),
                }
                for row in page.rows
            ],
            updated_at=timezone.now().isoformat(),
        ),
        key=phase.pk,
    )
    leaderboard_changed(phase_id=phase.pk, split=split)


def phase_close(*, phase: Phase, by: User) -> Phase:
    """A host closes a phase after its end: the private leaderboard is revealed and the final ranking
    published (`competitions.phase.closed.v1`, with the teams' organisations for funds). Audited."""
    with transaction.atomic():
        competition = _lock_competition(phase.competition, by=by)
        # Waits for submissions being accepted (they hold a share lock); later ones see it closed.
        phase = Phase.objects.select_for_update(of=("self",)).get(pk=phase.pk)
        if phase.is_closed:
            raise PhaseRefused(_("This phase is already closed."), code="phase_closed")
        now = timezone.now()
        if now < phase.ends_at:
            raise PhaseRefused(_("A phase can be closed only after its end."), code="phase_running")
        phase.closed_at = now
        phase.save(update_fields=["closed_at"])
        AuditEntry.objects.create(competition=competition, actor=by, action=AuditEntry.Action.PHASE_CLOSED, phase=phase)
        final = leaderboard(phase=phase, split=SPLIT_PRIVATE, page=1, size=FINAL_RANKING_MAX)
        organisation_ids = {row.organisation_id for row in final.rows if row.organisation_id}
        names = dict(Organisation.objects.filter(pk__in=organisation_ids).values_list("pk", "name"))
        publish(
            PhaseClosed(
                phase_id=phase.pk,
                competition_id=competition.pk,
                competition_title=competition.title,
                phase_name=phase.name,
                metric=phase.primary_metric,
                higher_is_better=phase.higher_is_better,
                closed_at=now.isoformat(),
                teams=final.total,
                ranking=[
                    {
                        "rank": row.rank,
                        "team_id": row.team_id,
                        "team_name": row.team_name,
                        "organisation_id": row.organisation_id,
                        "organisation_name": names.get(row.organisation_id) if row.organisation_id else None,
                        "score": row.score,
                    }
                    for row in final.rows
                ],
            ),
            key=phase.pk,
        )
        _announce_leaderboard(phase=phase, split=SPLIT_PRIVATE)
    return phase


# --- helpers ---------------------------------------------------------------------------------------
def _assign(instance: Any, fields: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"not fields a user may set: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(instance, name, value.strip() if isinstance(value, str) else value)


def _check(instance: Any, refusal: type[Refused], *, exclude: list[str], constraints: bool = True) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_constraints=constraints)
    except ValidationError as exc:
        raise refusal(_("Please correct the marked fields."), code="invalid", errors=exc.message_dict) from None


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value

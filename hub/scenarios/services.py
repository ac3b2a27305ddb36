"""Every write to scenarios and proposals: one function, one transaction, its events published inside it.

Refusals are named exceptions: `NotPermitted` (a 403: the actor may not do this) and the
`Refused` family, whose message the user can act on and whose `errors` name the fields concerned,
so that views show them as form errors. Drafts publish no events (they are private to their
organisation); every change a published scenario or a sent proposal goes through does.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hub.accounts.models import Organisation, User
from hub.events.publish import publish
from hub.scenarios.events import (
    MatchSuggested,
    ProposalAwarded,
    ProposalDeclined,
    ProposalEvent,
    ProposalShortlisted,
    ProposalSubmitted,
    ProposalWithdrawn,
    ScenarioPublished,
    ScenarioUpdated,
    ScenarioWithdrawn,
    canonical_path,
)
from hub.scenarios.models import MatchSuggestion, Proposal, ProposalAttachment, Scenario
from hub.scenarios.selectors import is_member, member_ids, members_of

Status = Scenario.Status
ProposalStatus = Proposal.Status

SCENARIO_FIELDS = (
    "title",
    "title_en",
    "description",
    "description_en",
    "sector",
    "city",
    "budget_min",
    "budget_max",
    "data_available",
    "deadline",
    "contact_name",
    "contact_email",
    "contact_phone",
)
# What a reader needs before a scenario may go public (drafts may lack any of these but the title).
PUBLISH_REQUIRED = ("title", "description", "sector", "city", "deadline", "contact_name", "contact_email")
# The status steps a publisher may take by hand; `awarded` also follows from proposal_award.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.MATCHING, Status.CLOSED}),
    Status.MATCHING: frozenset({Status.AWARDED, Status.CLOSED}),
    Status.AWARDED: frozenset({Status.CLOSED}),
}

PROPOSAL_FIELDS = ("summary", "capabilities", "references", "price", "timeline")
SUBMIT_REQUIRED = ("summary", "capabilities", "timeline")

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
# Extension → the content type the file is served with. Office files are ZIP containers.
ATTACHMENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "zip": "application/zip",
}
_OFFICE_PARTS = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}


class NotPermitted(PermissionDenied):
    """The actor may not do this at all (not a publisher, not a member of the startup): a 403."""


class Refused(Exception):
    """The write is not possible now; `message` tells the user why, `errors` maps fields to messages."""

    def __init__(self, message: str, *, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = {
            field: [str(m) for m in messages] for field, messages in (errors or {}).items()
        }


class ScenarioRefused(Refused):
    """A scenario cannot be saved, published or moved to that status (wrong status, missing fields...)."""


class ProposalRefused(Refused):
    """A proposal cannot be saved or take that step (scenario closed, deadline past, already sent...)."""


class AttachmentRefused(Refused):
    """A file is too large, empty, or not one of the allowed types by its name and its content."""


# --- scenarios --------------------------------------------------------------------------------
def scenario_create(*, organisation: Organisation, by: User, fields: Mapping[str, Any]) -> Scenario:
    """Start a draft for `organisation` (by one of its members); only the title is needed yet."""
    if not is_member(user=by, organisation_id=organisation.pk):
        raise NotPermitted(_("Only members of an organisation may publish scenarios for it."))
    with transaction.atomic():
        scenario = Scenario(organisation=organisation, created_by=by, status=Status.DRAFT)
        _assign(scenario, fields, SCENARIO_FIELDS)
        _check_scenario(scenario)
        scenario.save()
    return scenario


def scenario_update(*, scenario: Scenario, by: User, fields: Mapping[str, Any]) -> Scenario:
    """Change a scenario. A draft just saves; a published one must stay complete, gets the next
    revision and tells the world (`updated`). A change that changes nothing is not a new version."""
    with transaction.atomic():
        scenario = _lock_scenario(scenario, by=by)
        if scenario.status == Status.WITHDRAWN:
            raise ScenarioRefused(_("A withdrawn scenario can no longer be changed."))
        before = {name: getattr(scenario, name) for name in SCENARIO_FIELDS}
        _assign(scenario, fields, SCENARIO_FIELDS)
        _check_scenario(scenario)
        if not scenario.is_published:
            scenario.save()
            return scenario
        if all(getattr(scenario, name) == value for name, value in before.items()):
            return scenario
        _check_complete(scenario, check_deadline=scenario.deadline != before["deadline"])
        scenario.revision += 1
        scenario.save()
        publish(ScenarioUpdated.of(scenario), key=scenario.pk)
        _suggest_matches_on_commit(scenario.pk)
    return scenario


def scenario_publish(*, scenario: Scenario, by: User) -> Scenario:
    """Make a complete draft public and open for proposals (version 1); refused with field errors
    if anything a reader needs is missing or the deadline has passed."""
    with transaction.atomic():
        scenario = _lock_scenario(scenario, by=by)
        if scenario.status != Status.DRAFT:
            raise ScenarioRefused(_("This scenario has already been published."))
        _check_scenario(scenario)
        _check_complete(scenario, check_deadline=True)
        scenario.status = Status.OPEN
        scenario.published_at = timezone.now()
        scenario.save()
        publish(ScenarioPublished.of(scenario), key=scenario.pk)
        _suggest_matches_on_commit(scenario.pk)
    return scenario


def scenario_set_status(*, scenario: Scenario, by: User, status: str) -> Scenario:
    """Move a published scenario along open → matching → awarded → closed (open and matching may
    also close directly); any other step is refused. Each step is a new version."""
    with transaction.atomic():
        scenario = _lock_scenario(scenario, by=by)
        if status not in TRANSITIONS.get(scenario.status, ()):
            raise ScenarioRefused(
                _("A scenario that is “%(current)s” cannot become “%(wanted)s”.")
                % {"current": scenario.get_status_display(), "wanted": _status_label(status)}
            )
        scenario.status = status
        scenario.revision += 1
        scenario.save()
        publish(ScenarioUpdated.of(scenario), key=scenario.pk)
    return scenario


def scenario_withdraw(*, scenario: Scenario, by: User) -> Scenario:
    """Take a published scenario down: it leaves the public listing and search (a new version)."""
    with transaction.atomic():
        scenario = _lock_scenario(scenario, by=by)
        if scenario.status not in Scenario.PUBLIC:
            raise ScenarioRefused(_("Only a published scenario can be withdrawn."))
        scenario.status = Status.WITHDRAWN
        scenario.revision += 1
        scenario.save()
        publish(
            ScenarioWithdrawn(scenario_id=scenario.pk, version=scenario.revision, url=canonical_path(scenario)),
            key=scenario.pk,
        )
    return scenario


def _lock_scenario(scenario: Scenario, *, by: User) -> Scenario:
    """The scenario's row, locked for this transaction (so revisions never collide), if `by` publishes it."""
    locked = Scenario.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=scenario.pk)
    if not is_member(user=by, organisation_id=locked.organisation_id):
        raise NotPermitted(_("Only members of the publishing organisation may do this."))
    return locked


def _check_scenario(scenario: Scenario) -> None:
    """Field-level validity, for drafts too: unknown sectors, bad e-mails, budgets the wrong way round."""
    if (
        scenario.budget_min is not None
        and scenario.budget_max is not None
        and scenario.budget_min > scenario.budget_max
    ):
        raise ScenarioRefused(
            _("The lower budget must not exceed the upper budget."),
            errors={"budget_max": [_("The upper budget must be at least the lower budget.")]},
        )
    try:
        scenario.full_clean(exclude=["organisation", "created_by"])
    except ValidationError as exc:
        raise ScenarioRefused(_("Please correct the marked fields."), errors=exc.message_dict) from None


def _check_complete(scenario: Scenario, *, check_deadline: bool) -> None:
    errors = {name: [_("Required to publish.")] for name in PUBLISH_REQUIRED if getattr(scenario, name) in ("", None)}
    if check_deadline and scenario.deadline is not None and scenario.deadline < timezone.localdate():
        errors["deadline"] = [_("The deadline is in the past.")]
    if errors:
        raise ScenarioRefused(_("The scenario is not ready to publish."), errors=errors)


def _status_label(status: str) -> str:
    return str(Status(status).label) if status in Status.values else status


# --- matching ---------------------------------------------------------------------------------
def _suggest_matches_on_commit(scenario_id: int) -> None:
    """Once the change commits, have the startups that fit the scenario now found (a Celery task).

    Robust and without retries: a broker that cannot take the task costs one quick, logged failure
    (suggestions are looked for again at the next change), never an error or a wait for the
    publisher, whose change is already saved.
    """
    from hub.scenarios.tasks import scenario_suggest_matches  # the task calls back into these services

    transaction.on_commit(lambda: scenario_suggest_matches.apply_async((scenario_id,), retry=False), robust=True)


def match_suggestions_replace(*, scenario: Scenario, suggestions: Sequence[tuple[int, float]]) -> bool:
    """Store the startups matching suggests for a scenario, best first as (organisation id, score),
    in place of the last ones; publish `scenarios.match.suggested.v1` when the list (who, in which
    order) changed. Returns whether it was published.

    Only an open scenario takes suggestions (one closed meanwhile keeps what it had). Ids that are
    not startups, or are the scenario's own publisher, are dropped; the startups suggested for the
    first time are the ones told.
    """
    with transaction.atomic():
        # Locked: two runs for one scenario store and announce one after the other.
        scenario = Scenario.objects.select_for_update(of=("self",)).get(pk=scenario.pk)
        if scenario.status != Status.OPEN:
            return False
        ids = list(dict.fromkeys(organisation_id for organisation_id, _score in suggestions))
        startups = Organisation.objects.filter(pk__in=ids, kind=Organisation.Kind.STARTUP).exclude(
            pk=scenario.organisation_id
        )
        names = dict(startups.values_list("pk", "name"))
        scores = dict(reversed(suggestions))  # the first score given for an id
        kept = [organisation_id for organisation_id in ids if organisation_id in names]
        before = list(scenario.match_suggestions.order_by("rank").values_list("organisation_id", flat=True))
        scenario.match_suggestions.all().delete()
        now = timezone.now()
        MatchSuggestion.objects.bulk_create(
            MatchSuggestion(
                scenario=scenario,
                organisation_id=organisation_id,
                score=scores[organisation_id],
                rank=rank,
                suggested_at=now,
            )
            for rank, organisation_id in enumerate(kept, start=1)
        )
        if kept == before:
            return False
        newly = [organisation_id for organisation_id in kept if organisation_id not in before]
        publish(
            MatchSuggested(
                scenario_id=scenario.pk,
                scenario_title=scenario.title,
                url=canonical_path(scenario),
                suggestions=[
                    {
                        "organisation_id": organisation_id,
                        "organisation_name": names[organisation_id],
                        "score": round(max(scores[organisation_id], 0.0), 4),
                    }
                    for organisation_id in kept
                ],
                recipients=members_of(organisation_ids=newly),
            ),
            key=scenario.pk,
        )
    return True


# --- proposals --------------------------------------------------------------------------------
def proposal_save_draft(
    *,
    scenario: Scenario,
    organisation: Organisation,
    by: User,
    fields: Mapping[str, Any],
    attachments: Iterable[UploadedFile] = (),
    remove_attachments: Iterable[int] = (),
) -> Proposal:
    """Create or change the organisation's draft proposal to a scenario that takes proposals.

    One live proposal per (scenario, organisation): the draft is found again, never duplicated, so
    autosave may call this as often as it likes. Files are checked before anything is written.
    """
    _require_startup_member(by, organisation)
    uploads = [(upload, attachment_check(upload)) for upload in attachments]
    stored: list[str] = []
    try:
        with transaction.atomic():
            scenario = Scenario.objects.select_related("organisation").get(pk=scenario.pk)
            _check_accepting(scenario)
            if scenario.organisation_id == organisation.pk:
                raise ProposalRefused(_("An organisation cannot answer its own scenario."))
            proposal = (
                Proposal.objects.select_for_update(of=("self",))
                .filter(scenario=scenario, organisation=organisation)
                .exclude(status__in=Proposal.ENDED)
                .first()
            )
            if proposal is None:
                proposal = Proposal(scenario=scenario, organisation=organisation)
            elif proposal.status != ProposalStatus.DRAFT:
                raise ProposalRefused(_("Your organisation has already sent a proposal to this scenario."))
            _assign(proposal, fields, PROPOSAL_FIELDS)
            _check_proposal(proposal)
            try:
                with transaction.atomic():
                    proposal.save()
            except IntegrityError:  # another tab of the same startup created the draft a moment ago
                raise ProposalRefused(_("Your organisation already has a proposal for this scenario.")) from None
            removed = list(proposal.attachments.filter(pk__in=list(remove_attachments)))
            for attachment in removed:
                name = attachment.file.name
                attachment.delete()
                transaction.on_commit(lambda name=name: ProposalAttachment.file.field.storage.delete(name))
            if proposal.attachments.count() + len(uploads) > MAX_ATTACHMENTS:
                raise AttachmentRefused(
                    _("A proposal can carry at most %(count)d files.") % {"count": MAX_ATTACHMENTS},
                    errors={"attachments": [_("Too many files.")]},
                )
            for upload, content_type in uploads:
                attachment = ProposalAttachment(
                    proposal=proposal,
                    original_name=PurePath(upload.name or "file").name[-255:],
                    content_type=content_type,
                    size=upload.size or 0,
                    uploaded_by=by,
                )
                attachment.file.save(upload.name or "file", upload, save=False)
                stored.append(attachment.file.name)
                attachment.save()
    except BaseException:
        # The rows are rolled back; the files written for them must go too.
        for name in stored:
            ProposalAttachment.file.field.storage.delete(name)
        raise
    return proposal


def proposal_submit(*, proposal: Proposal, by: User) -> Proposal:
    """Send a complete draft to the scenario's publishers, while the scenario is open and its
    deadline has not passed."""
    _require_startup_member(by, proposal.organisation)
    with transaction.atomic():
        # The scenario first: a publisher closing it waits for this submission, or this sees it closed.
        scenario = Scenario.objects.select_for_update(of=("self",)).get(pk=proposal.scenario_id)
        proposal = _lock_proposal(proposal)
        if proposal.status != ProposalStatus.DRAFT:
            raise ProposalRefused(_("This proposal has already been sent."))
        _check_accepting(scenario)
        missing = {
            name: [_("Required to send the proposal.")] for name in SUBMIT_REQUIRED if not getattr(proposal, name)
        }
        if missing:
            raise ProposalRefused(_("The proposal is not ready to send."), errors=missing)
        _check_proposal(proposal)
        proposal.status = ProposalStatus.SUBMITTED
        proposal.submitted_at = timezone.now()
        proposal.submitted_by = by
        proposal.save()
        publish(
            ProposalSubmitted.of(proposal, recipients=member_ids(organisation_id=scenario.organisation_id)),
            key=scenario.pk,
        )
    return proposal


def proposal_withdraw(*, proposal: Proposal, by: User) -> Proposal:
    """The startup takes its proposal back (a draft, or one not yet decided); the publishers are
    told if they had received it."""
    _require_startup_member(by, proposal.organisation)
    with transaction.atomic():
        proposal = _lock_proposal(proposal)
        if proposal.status not in WITHDRAWABLE:
            raise ProposalRefused(_("A proposal that has been decided can no longer be withdrawn."))
        was_sent = proposal.submitted_at is not None
        proposal.status = ProposalStatus.WITHDRAWN
        proposal.save()
        recipients = member_ids(organisation_id=proposal.scenario.organisation_id) if was_sent else []
        publish(ProposalWithdrawn.of(proposal, recipients=recipients), key=proposal.scenario_id)
    return proposal


# action → (proposal statuses it applies to, scenario statuses it is possible in, the new status, its event)
DECISIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, type[ProposalEvent]]] = {
    "shortlist": (
        (ProposalStatus.SUBMITTED,),
        (Status.OPEN, Status.MATCHING),
        ProposalStatus.SHORTLISTED,
        ProposalShortlisted,
    ),
    # Declining stays possible after another proposal won, so the others hear back.
    "decline": (
        (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED),
        (*Scenario.PUBLIC, Status.WITHDRAWN),
        ProposalStatus.DECLINED,
        ProposalDeclined,
    ),
    "award": (
        (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED),
        (Status.OPEN, Status.MATCHING),
        ProposalStatus.AWARDED,
        ProposalAwarded,
    ),
}
WITHDRAWABLE = (ProposalStatus.DRAFT, ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED)


def proposal_decisions(*, proposal: Proposal) -> list[str]:
    """The decisions a publisher could take on this proposal now (for the buttons; the services check again)."""
    return [
        action
        for action, (statuses, scenario_statuses, _to, _event) in DECISIONS.items()
        if proposal.status in statuses and proposal.scenario.status in scenario_statuses
    ]


def proposal_shortlist(*, proposal: Proposal, by: User) -> Proposal:
    """A publisher puts a sent proposal on the shortlist while the scenario is open or matching."""
    return _decide("shortlist", proposal=proposal, by=by)


def proposal_decline(*, proposal: Proposal, by: User) -> Proposal:
    """A publisher declines a sent or shortlisted proposal (also after another one was awarded)."""
    return _decide("decline", proposal=proposal, by=by)


def proposal_award(*, proposal: Proposal, by: User) -> Proposal:
    """A publisher awards a sent or shortlisted proposal while the scenario is open or matching;
    the scenario becomes awarded (a new version, published as `updated`)."""
    return _decide("award", proposal=proposal, by=by)


def _decide(action: str, *, proposal: Proposal, by: User) -> Proposal:
    statuses, scenario_statuses, to, event = DECISIONS[action]
    with transaction.atomic():
        scenario = _lock_scenario(proposal.scenario, by=by)
        proposal = _lock_proposal(proposal)
        if proposal.status not in statuses:
            raise ProposalRefused(
                _("A proposal that is “%(status)s” cannot be “%(wanted)s”.")
                % {"status": proposal.get_status_display(), "wanted": ProposalStatus(to).label}
            )
        if scenario.status not in scenario_statuses:
            raise ProposalRefused(
                _("Not possible while the scenario is “%(status)s”.") % {"status": scenario.get_status_display()}
            )
        proposal.status = to
        proposal.save()
        if to == ProposalStatus.AWARDED:
            scenario.status = Status.AWARDED
            scenario.revision += 1
            scenario.save()
            publish(ScenarioUpdated.of(scenario), key=scenario.pk)
        publish(event.of(proposal, recipients=member_ids(organisation_id=proposal.organisation_id)), key=scenario.pk)
    return proposal


def _lock_proposal(proposal: Proposal) -> Proposal:
    return (
        Proposal.objects.select_for_update(of=("self",)).select_related("scenario", "organisation").get(pk=proposal.pk)
    )


def _require_startup_member(user: User, organisation: Organisation) -> None:
    if organisation.kind != Organisation.Kind.STARTUP or not is_member(user=user, organisation_id=organisation.pk):
        raise NotPermitted(_("Only members of a startup may send proposals for it."))


def _check_accepting(scenario: Scenario) -> None:
    if scenario.status != Status.OPEN:
        raise ProposalRefused(_("This scenario is not taking proposals."))
    if scenario.deadline_passed:
        raise ProposalRefused(_("The deadline for proposals has passed."))


def _check_proposal(proposal: Proposal) -> None:
    try:
        # The live-proposal constraint is the database's to enforce (and proposal_save_draft's to report).
        proposal.full_clean(exclude=["scenario", "organisation", "submitted_by"], validate_constraints=False)
    except ValidationError as exc:
        raise ProposalRefused(_("Please correct the marked fields."), errors=exc.message_dict) from None


# --- attachments ------------------------------------------------------------------------------
def attachment_check(upload: UploadedFile) -> str:
    """The content type to store for an upload, or AttachmentRefused: at most 10 MiB, not empty, and
    an allowed type by its extension AND by its first bytes (an .exe renamed .pdf is refused)."""
    name = upload.name or ""
    extension = PurePath(name).suffix.lower().lstrip(".")
    if extension not in ATTACHMENT_TYPES:
        raise AttachmentRefused(
            _("“%(name)s” is not an allowed type (PDF, Word, Excel, PowerPoint, PNG, JPEG or ZIP).") % {"name": name},
            errors={"attachments": [_("%(name)s: type not allowed.") % {"name": name}]},
        )
    size = upload.size or 0
    if size > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused(
            _("“%(name)s” is larger than 10 MiB.") % {"name": name},
            errors={"attachments": [_("%(name)s: larger than 10 MiB.") % {"name": name}]},
        )
    if size == 0 or not _content_matches(upload, extension):
        raise AttachmentRefused(
            _("“%(name)s” is not really a .%(extension)s file.") % {"name": name, "extension": extension},
            errors={"attachments": [_("%(name)s: the content does not match its type.") % {"name": name}]},
        )
    return ATTACHMENT_TYPES[extension]


def _content_matches(upload: UploadedFile, extension: str) -> bool:
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if extension == "pdf":
        return head.startswith(b"%PDF-")
    if extension == "png":
        return head == b"\x89PNG\r\n\x1a\n"
    if extension in ("jpg", "jpeg"):
        return head.startswith(b"\xff\xd8\xff")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return False
    try:
        # Only the central directory is read: nothing is decompressed.
        with zipfile.ZipFile(upload.file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        upload.seek(0)
    if extension == "zip":
        return True
    part = _OFFICE_PARTS[extension]
    return "[Content_Types].xml" in names and any(n.startswith(part) for n in names)


def _assign(instance: Scenario | Proposal, fields: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"not fields a user may set: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        if isinstance(value, str) and name != "capabilities":
            value = value.strip()
        setattr(instance, name, value)

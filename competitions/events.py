"""Events the competitions context publishes (topic `competitions`) and the scorer's job events it applies.

Keys: a competition's events are keyed by the competition id, a submission's by the submission id (as the
scorer keys its job events), a phase's leaderboard and closing by the phase id. Each type's JSON Schema
sits in schemas/. Drafts publish nothing. No event names where a phase's hidden data lies: the scorer
resolves it from the phase id itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from django.db.models import Max, Min

from hub.events.registry import Event, event_type, handles

# The scorer's event types: imported so that they are registered wherever this consumer runs.
from services.scorer.events import JobFailed, JobFinished, JobProgress, JobQueued, JobStarted

if TYPE_CHECKING:
    from competitions.models import Competition, Submission

CONSUMER = "competitions"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class CompetitionSnapshot(Event):
    """What the public can read of a competition after a change; `version` is its revision then.

    `url` is the default-language path; `starts_at`/`ends_at` span its phases (null before it has any).
    """

    competition_id: int
    version: int
    slug: str
    title: str
    title_en: str
    description: str
    description_en: str
    host_organisation_id: int
    host_organisation_name: str
    status: str
    url: str
    starts_at: str | None
    ends_at: str | None
    published_at: str
    updated_at: str

    @classmethod
    def of(cls, competition: Competition) -> Self:
        assert competition.published_at is not None
        span = competition.phases.aggregate(starts_at=Min("starts_at"), ends_at=Max("ends_at"))
        return cls(
            competition_id=competition.pk,
            version=competition.revision,
            slug=competition.slug,
            title=competition.title,
            title_en=competition.title_en,
            description=competition.description,
            description_en=competition.description_en,
            host_organisation_id=competition.host_id,
            host_organisation_name=competition.host.name,
            status=competition.status,
            url=competition.get_absolute_url(),
            starts_at=_iso(span["starts_at"]),
            ends_at=_iso(span["ends_at"]),
            published_at=competition.published_at.isoformat(),
            updated_at=competition.updated_at.isoformat(),
        )


@event_type("competitions.competition.published.v1")
@dataclass(frozen=True)
class CompetitionPublished(CompetitionSnapshot):
    """The first publish: the competition is announced (version 1)."""


@event_type("competitions.competition.updated.v1")
@dataclass(frozen=True)
class CompetitionUpdated(CompetitionSnapshot):
    """Any later change of a published competition, its status included."""


@event_type("competitions.submission.received.v1")
@dataclass(frozen=True)
class SubmissionReceived(Event):
    """A submission was accepted and stored, or a host sent it to be scored again (the next `scoring_round`):
    everything the scorer needs to run and score it.

    `file` is the submission's name in private storage. The hidden inputs and labels are not named: the
    scorer finds them by `phase_id`, so an event leaked anywhere cannot point at them.
    """

    submission_id: int
    phase_id: int
    competition_id: int
    team_id: int
    kind: str
    file: str
    sha256: str
    size: int
    resources: str
    time_limit_seconds: int
    memory_limit_bytes: int
    scoring_config: dict[str, Any]
    created_at: str
    scoring_round: int
    organisation_id: int | None = None  # whose compute credit pays for the scoring (funds meters it)

    @classmethod
    def of(cls, submission: Submission) -> Self:
        phase = submission.phase
        return cls(
            submission_id=submission.pk,
            phase_id=phase.pk,
            competition_id=phase.competition_id,
            team_id=submission.team_id,
            kind=submission.kind,
            file=str(submission.file.name),
            sha256=submission.sha256,
            size=submission.size,
            resources=phase.resources,
            time_limit_seconds=phase.time_limit_seconds,
            memory_limit_bytes=phase.memory_limit_bytes,
            scoring_config=phase.scoring_config,
            created_at=submission.created_at.isoformat(),
            scoring_round=submission.scoring_round,
            organisation_id=submission.team.organisation_id,
        )


@dataclass(frozen=True)
class SubmissionOutcome(Event):
    """How a submission ended, for its team's members (`recipients`): the notifier tells each of them."""

    submission_id: int
    competition_id: int
    competition_title: str
    team_name: str
    url: str
    recipients: list[int]

    @staticmethod
    def fields_of(submission: Submission) -> dict[str, Any]:
        competition = submission.phase.competition
        return {
            "submission_id": submission.pk,
            "competition_id": competition.pk,
            "competition_title": competition.title,
            "team_name": submission.team.name,
            "url": f"{competition.get_absolute_url()}submissions/{submission.pk}/",
            "recipients": sorted(submission.team.memberships.values_list("user_id", flat=True)),
        }


@event_type("competitions.submission.scored.v1")
@dataclass(frozen=True)
class SubmissionScored(SubmissionOutcome):
    """Scored: the primary metric on the split the team may see now (public; private once the phase closed)."""

    metric: str
    score: float | None

    @classmethod
    def of(cls, submission: Submission) -> Self:
        phase = submission.phase
        score = submission.private_score if phase.is_closed else submission.public_score
        return cls(**cls.fields_of(submission), metric=phase.primary_metric, score=score)


@event_type("competitions.submission.failed.v1")
@dataclass(frozen=True)
class SubmissionFailed(SubmissionOutcome):
    reason: str
    platform_failure: bool

    @classmethod
    def of(cls, submission: Submission) -> Self:
        return cls(
            **cls.fields_of(submission), reason=submission.failure_reason, platform_failure=submission.platform_failure
        )


@event_type("competitions.leaderboard.updated.v1")
@dataclass(frozen=True)
class LeaderboardUpdated(Event):
    """A visible leaderboard changed: its top entries now, best first.

    Only splits the public may see are announced: the private one only after the phase closed.
    `top` entries are {rank, team_id, team_name, organisation_id, score, ci_low, ci_high, submitted_at}.
    """

    phase_id: int
    competition_id: int
    split: str
    metric: str
    higher_is_better: bool
    teams: int
    top: list[dict[str, Any]]
    updated_at: str


@event_type("competitions.phase.closed.v1")
@dataclass(frozen=True)
class PhaseClosed(Event):
    """The host closed a phase: the final ranking on the private split, best first (up to 1,000 teams;
    `teams` counts them all). Entries are {rank, team_id, team_name, organisation_id, organisation_name,
    score}; funds invites the top teams' organisations to its fast-track call."""

    phase_id: int
    competition_id: int
    competition_title: str
    phase_name: str
    metric: str
    higher_is_better: bool
    closed_at: str
    teams: int
    ranking: list[dict[str, Any]]


# --- the scorer's job events ----------------------------------------------------------------
# Applied in the consumer's transaction with its inbox row (hub.events.consumer), so a redelivery changes
# nothing; the services themselves also only ever move a submission forward.
@handles(JobQueued.type_name, consumer=CONSUMER)
@handles(JobStarted.type_name, consumer=CONSUMER)
@handles(JobProgress.type_name, consumer=CONSUMER)
@handles(JobFinished.type_name, consumer=CONSUMER)
@handles(JobFailed.type_name, consumer=CONSUMER)
def on_job_event(event: JobQueued | JobStarted | JobProgress | JobFinished | JobFailed) -> None:
    """Move the submission along and, once scored, refresh its team's leaderboard entries."""
    from competitions.services import submission_record_job_event  # the services publish this module's events

    submission_record_job_event(event=event)

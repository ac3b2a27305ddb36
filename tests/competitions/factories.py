"""Factories for competitions: rows as the services would leave them, made directly."""

from __future__ import annotations

import datetime
import secrets

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from competitions.models import Competition, DataFile, Phase, Submission, Team, TeamMembership
from hub.accounts.models import Organisation
from services.scorer.config import ScoringConfig
from tests.factories import OrganisationFactory

SCORING = ScoringConfig(
    output="label", metrics=("accuracy", "f1_macro"), label_type="int", leaderboard_split="public"
).to_dict()


class CompetitionFactory(factory.django.DjangoModelFactory):
    """A published competition; `CompetitionFactory(draft=True)` for a draft."""

    class Meta:
        model = Competition

    class Params:
        draft = factory.Trait(status=Competition.Status.DRAFT, published_at=None)

    slug = factory.Sequence(lambda n: f"digits-{n}")
    title = factory.Sequence(lambda n: f"手写数字识别挑战赛{n}")
    title_en = "Handwritten digits challenge"
    description = "识别手写数字。"
    rules = "每队每天限提交两次。"
    host = factory.SubFactory(OrganisationFactory, kind=Organisation.Kind.GOVERNMENT)
    status = Competition.Status.PUBLISHED
    max_team_size = 3
    published_at = factory.LazyFunction(timezone.now)


class PhaseFactory(factory.django.DjangoModelFactory):
    """A phase open now (since yesterday, for a week), scored on accuracy, taking predictions and ONNX."""

    class Meta:
        model = Phase
        skip_postgeneration_save = True

    competition = factory.SubFactory(CompetitionFactory)
    name = "初赛"
    name_en = "Preliminary round"
    starts_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=7))
    accepted_kinds = factory.LazyFunction(lambda: ["onnx", "predictions"])
    max_upload_bytes = 1024 * 1024
    daily_limit = 5
    final_selection_count = 2
    scoring_config = factory.LazyFunction(lambda: dict(SCORING))
    primary_metric = "accuracy"
    higher_is_better = True
    extra_columns = factory.LazyFunction(lambda: ["f1_macro"])

    @factory.post_generation
    def hidden_labels(phase, create, extracted, **kwargs):
        """Hidden labels for ids 0..3 (label = id; 0 and 2 public, 1 and 3 private), where the scorer looks."""
        if create and extracted is not False:
            rows = "".join(f"{i},{i},{'public' if i % 2 == 0 else 'private'}\n" for i in range(4))
            DataFile.objects.create(
                phase=phase,
                role=DataFile.Role.HIDDEN_LABELS,
                file=ContentFile(("id,label,split\n" + rows).encode(), name="labels.csv"),
                original_name="labels.csv",
                size=len(rows) + 15,
                sha256="0" * 64,
            )


class TeamFactory(factory.django.DjangoModelFactory):
    """A team; `TeamFactory(members=[user, ...])` puts them in it."""

    class Meta:
        model = Team
        skip_postgeneration_save = True

    competition = factory.SubFactory(CompetitionFactory)
    name = factory.Sequence(lambda n: f"星火队{n}")
    invite_code = factory.LazyFunction(lambda: secrets.token_urlsafe(12))
    size_limit = factory.LazyAttribute(lambda team: team.competition.max_team_size)

    @factory.post_generation
    def members(team, create, extracted, **kwargs):
        for user in extracted or []:
            TeamMembership.objects.create(team=team, user=user, competition=team.competition)


class SubmissionFactory(factory.django.DjangoModelFactory):
    """A received predictions file (no file on disk: tests that need one go through submission_create)."""

    class Meta:
        model = Submission

    phase = factory.SubFactory(PhaseFactory)
    team = factory.SubFactory(TeamFactory, competition=factory.SelfAttribute("..phase.competition"))
    kind = "predictions"
    file = factory.Sequence(lambda n: f"competitions/submissions/{n:032x}.csv")
    original_name = "predictions.csv"
    sha256 = "0" * 64
    size = 100
    quota_day = factory.LazyFunction(timezone.localdate)

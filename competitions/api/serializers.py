"""Shapes of the competitions API's answers and requests (they also document it in /api/schema/).

No field names where a file lies in storage or anything of a phase's hidden data: submissions show
their original file name and hash, never their stored path, job or reproducibility record (which
fingerprints the hidden labels).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from competitions.models import SPLIT_PUBLIC, Competition, Phase, RulesAcceptance, Submission, Team
from competitions.selectors import queue_position


class PhaseSerializer(serializers.ModelSerializer):
    is_open = serializers.SerializerMethodField(help_text="Takes submissions now.")

    class Meta:
        model = Phase
        fields = [
            "id",
            "name",
            "name_en",
            "starts_at",
            "ends_at",
            "closed_at",
            "is_open",
            "accepted_kinds",
            "resources",
            "time_limit_seconds",
            "memory_limit_bytes",
            "max_upload_bytes",
            "daily_limit",
            "total_limit",
            "final_selection_count",
            "primary_metric",
            "higher_is_better",
            "extra_columns",
        ]

    def get_is_open(self, phase: Phase) -> bool:
        return phase.is_open()


class CompetitionSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", help_text="The host organisation.")
    url = serializers.CharField(source="get_absolute_url", help_text="The competition's page on this site.")

    class Meta:
        model = Competition
        fields = [
            "slug",
            "title",
            "title_en",
            "description",
            "description_en",
            "status",
            "host",
            "max_team_size",
            "published_at",
            "url",
        ]


class CompetitionDetailSerializer(CompetitionSerializer):
    phases = PhaseSerializer(many=True, read_only=True)

    class Meta(CompetitionSerializer.Meta):
        fields = [*CompetitionSerializer.Meta.fields, "rules", "rules_en", "prizes", "phases"]


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "invite_code",
            "size_limit",
            "organisation",
            "members",
            "disqualified",
            "disqualified_reason",
            "created_at",
        ]


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    organisation = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of an organisation of yours the team enters for."
    )


class TeamJoinSerializer(serializers.Serializer):
    invite_code = serializers.CharField(max_length=32)


class RulesAcceptanceSerializer(serializers.ModelSerializer):
    """Which revision of the rules the caller accepted, and when."""

    class Meta:
        model = RulesAcceptance
        fields = ["revision", "accepted_at"]


class SubmissionCreateSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="The predictions file, model or code package.")
    kind = serializers.ChoiceField(choices=Phase.Kind.choices, default=Phase.Kind.PREDICTIONS)
    phase = serializers.IntegerField(required=False, help_text="Phase id; default: the phase open now.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class FinalSelectionSerializer(serializers.Serializer):
    selected = serializers.BooleanField(default=True)


def _reveals_private(submission: Submission, context: dict[str, Any]) -> bool:
    """Hosts see every split; entrants see the private one only once the phase has closed."""
    return bool(context.get("is_host")) or submission.phase.is_closed


class SubmissionStatusSerializer(serializers.ModelSerializer):
    """What a client polls while a submission is scored."""

    queue_position = serializers.SerializerMethodField(
        help_text="1 for the next of the phase's waiting submissions to run; null once it runs or has ended."
    )
    scores = serializers.SerializerMethodField(
        help_text="Metrics per split; the private split only once the phase has closed."
    )
    private_score = serializers.SerializerMethodField()
    primary_ci = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True, help_text="Scored, failed or cancelled: it moves no more.")

    class Meta:
        model = Submission
        fields = [
            "id",
            "status",
            "is_final",
            "progress",
            "queue_position",
            "scores",
            "public_score",
            "private_score",
            "primary_ci",
            "failure_code",
            "failure_reason",
            "platform_failure",
        ]

    def get_queue_position(self, submission: Submission) -> int | None:
        return queue_position(submission=submission)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_scores(self, submission: Submission) -> dict[str, Any]:
        if _reveals_private(submission, self.context):
            return submission.scores
        return {split: values for split, values in submission.scores.items() if split == SPLIT_PUBLIC}

    def get_private_score(self, submission: Submission) -> float | None:
        return submission.private_score if _reveals_private(submission, self.context) else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_primary_ci(self, submission: Submission) -> dict[str, Any] | None:
        ci = submission.primary_ci
        if ci and ci.get("split", SPLIT_PUBLIC) != SPLIT_PUBLIC and not _reveals_private(submission, self.context):
            return None
        return ci


class SubmissionSerializer(SubmissionStatusSerializer):
    class Meta(SubmissionStatusSerializer.Meta):
        fields = [
            *SubmissionStatusSerializer.Meta.fields,
            "phase",
            "team",
            "kind",
            "original_name",
            "size",
            "sha256",
            "description",
            "selected_for_final",
            "hidden",
            "counts_against_quota",
            "created_at",
            "started_at",
            "finished_at",
        ]


class SubmissionDetailSerializer(SubmissionSerializer):
    """One submission with what the team needs to understand its result."""

    class Meta(SubmissionSerializer.Meta):
        fields = [*SubmissionSerializer.Meta.fields, "hidden_reason", "log_tail", "compute"]


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    team_id = serializers.IntegerField()
    team_name = serializers.CharField()
    organisation_id = serializers.IntegerField(allow_null=True)
    score = serializers.FloatField()
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    submitted_at = serializers.DateTimeField()
    entries = serializers.IntegerField(help_text="Scored submissions of the team in the phase.")
    tied_with_leader = serializers.BooleanField(
        help_text="Its confidence interval overlaps the leader's: not distinguishable from first place."
    )


class BaselineSerializer(serializers.Serializer):
    name = serializers.CharField()
    name_en = serializers.CharField()
    score = serializers.FloatField()


class LeaderboardSerializer(serializers.Serializer):
    """One page of a leaderboard, in the open API's page shape plus what the columns mean."""

    count = serializers.IntegerField(source="total", help_text="Teams on the leaderboard.")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    phase = serializers.IntegerField(source="phase_id")
    split = serializers.CharField()
    metric = serializers.CharField()
    higher_is_better = serializers.BooleanField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    size = serializers.IntegerField()
    results = LeaderboardRowSerializer(many=True, source="rows")
    baselines = BaselineSerializer(many=True, help_text="Reference entries, shown by score, never ranked.")


class RefusalSerializer(serializers.Serializer):
    """Every 4xx of this API: why, a stable code, and the fields concerned."""

    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)

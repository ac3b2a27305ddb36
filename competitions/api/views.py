"""The competitions open API. Reads go through competitions.selectors, writes through competitions.services.

A competition that `request.user` may not see is a 404 (drafts stay with their hosts), as is a
submission of another team. Every refusal is answered as {detail, code, errors}: the services'
`Refused` as a 400 with its code, `NotPermitted` as a 403 with its reason, bad request fields as a
400 naming them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from competitions.api.serializers import (
    CompetitionDetailSerializer,
    CompetitionSerializer,
    FinalSelectionSerializer,
    LeaderboardSerializer,
    PhaseSerializer,
    RefusalSerializer,
    RulesAcceptanceSerializer,
    SubmissionCreateSerializer,
    SubmissionDetailSerializer,
    SubmissionSerializer,
    SubmissionStatusSerializer,
    TeamCreateSerializer,
    TeamJoinSerializer,
    TeamSerializer,
)
from competitions.models import SPLIT_PUBLIC, SPLITS, Competition, Phase, Submission
from competitions.selectors import (
    LeaderboardHidden,
    competitions_visible,
    is_host,
    leaderboard,
    phase_current,
    submissions_visible,
    team_of,
)
from competitions.services import (
    NotPermitted,
    Refused,
    rules_accept,
    submission_create,
    submission_select_final,
    team_create,
    team_join,
)
from hub.accounts.models import Organisation

REFUSALS = {400: RefusalSerializer, 403: RefusalSerializer, 404: RefusalSerializer}
PHASE_PARAMETER = OpenApiParameter("phase", OpenApiTypes.INT, description="Phase id; default: the phase open now.")


def _refusal(detail: str, code: str, status_code: int, errors: dict[str, Any] | None = None) -> Response:
    return Response({"detail": detail, "code": code, "errors": errors or {}}, status=status_code)


class CompetitionAPIView(GenericAPIView):
    """Finds the competition in the URL among those the caller may see, and answers refusals alike."""

    def competition(self) -> Competition:
        return get_object_or_404(competitions_visible(user=self.request.user), slug=self.kwargs["slug"])

    def phase(self, competition: Competition, phase_id: Any) -> Phase:
        """The phase named by id, or the current one; a 400 for a phase of another competition."""
        if phase_id in (None, ""):
            phase = phase_current(competition=competition)
        else:
            try:
                phase = competition.phases.filter(pk=int(phase_id)).first()
            except (TypeError, ValueError):
                phase = None
        if phase is None:
            raise exceptions.ValidationError({"phase": [_("This competition has no such phase.")]})
        return phase

    def competition_phase(self, phase_id: Any) -> Phase:
        """The URL's competition and one of its phases, as `phase` finds it; a phase named by id comes
        with its competition in one query (each round trip counts on the leaderboard's hot path)."""
        if str(phase_id or "").isdigit():
            found = (
                Phase.objects.select_related("competition")
                .filter(pk=int(phase_id), competition__slug=self.kwargs["slug"])
                .filter(competition__in=competitions_visible(user=self.request.user))
                .first()
            )
            if found is not None:
                return found
        return self.phase(self.competition(), phase_id)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Refused):
            return _refusal(exc.message, exc.code, status.HTTP_400_BAD_REQUEST, exc.errors)
        if isinstance(exc, NotPermitted):
            return _refusal(str(exc), "not_permitted", status.HTTP_403_FORBIDDEN)
        if isinstance(exc, LeaderboardHidden):
            return _refusal(str(exc), "leaderboard_hidden", status.HTTP_404_NOT_FOUND)
        if isinstance(exc, exceptions.ValidationError):
            return _refusal(_("Please correct the marked fields."), "invalid", status.HTTP_400_BAD_REQUEST, exc.detail)
        if isinstance(exc, Http404):
            return _refusal(_("Not found."), "not_found", status.HTTP_404_NOT_FOUND)
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException) and isinstance(exc.detail, str):
            # DRF's own refusals (not signed in, throttled, wrong method...) in the same shape.
            code = getattr(exc.detail, "code", None) or exc.default_code
            response.data = {"detail": str(exc.detail), "code": code, "errors": {}}
        return response


# --- competitions and phases ---------------------------------------------------------------------
class CompetitionListView(CompetitionAPIView, ListAPIView):
    serializer_class = CompetitionSerializer

    def get_queryset(self) -> QuerySet[Competition]:
        return competitions_visible(user=self.request.user)

    @extend_schema(operation_id="competitions_list", summary="Competitions", description="Hosts also see their drafts.")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


class CompetitionDetailView(CompetitionAPIView):
    serializer_class = CompetitionDetailSerializer

    @extend_schema(
        operation_id="competition_retrieve",
        summary="A competition with its phases",
        responses={200: CompetitionDetailSerializer, **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.competition()).data)


class PhaseListView(CompetitionAPIView, ListAPIView):
    serializer_class = PhaseSerializer

    def get_queryset(self) -> QuerySet[Phase]:
        return self.competition().phases.order_by("starts_at", "id")

    @extend_schema(operation_id="competition_phases_list", summary="A competition's phases")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


# --- teams ---------------------------------------------------------------------------------------
class TeamView(CompetitionAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = TeamSerializer

    @extend_schema(
        operation_id="competition_team_retrieve",
        summary="My team in a competition",
        responses={200: TeamSerializer, **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        team = team_of(user=request.user, competition=self.competition())
        if team is None:
            raise Http404
        return Response(TeamSerializer(team).data)

    @extend_schema(
        operation_id="competition_team_create",
        summary="Form a team",
        description="You become its first member; others join with its invite code.",
        request=TeamCreateSerializer,
        responses={201: TeamSerializer, **REFUSALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        competition = self.competition()
        form = TeamCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        organisation = None
        if form.validated_data.get("organisation") is not None:
            organisation = Organisation.objects.filter(pk=form.validated_data["organisation"]).first()
            if organisation is None:
                raise exceptions.ValidationError({"organisation": [_("No such organisation.")]})
        team = team_create(
            competition=competition, by=request.user, name=form.validated_data["name"], organisation=organisation
        )
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class RulesAcceptView(CompetitionAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = RulesAcceptanceSerializer

    @extend_schema(
        operation_id="competition_rules_accept",
        summary="Accept the competition's rules",
        description="Needed once before forming or joining a team; accepting again keeps the first acceptance.",
        request=None,
        responses={200: RulesAcceptanceSerializer, **REFUSALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        acceptance = rules_accept(competition=self.competition(), by=request.user)
        return Response(RulesAcceptanceSerializer(acceptance).data)


class TeamJoinView(CompetitionAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = TeamJoinSerializer

    @extend_schema(
        operation_id="competition_team_join",
        summary="Join a team by its invite code",
        responses={200: TeamSerializer, **REFUSALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        competition = self.competition()
        form = TeamJoinSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        code = form.validated_data["invite_code"].strip()
        # An invite code of another competition is no code of this one (and nothing is joined).
        if not competition.teams.filter(invite_code=code).exists():
            raise Refused(_("No team has this invite code."), code="bad_invite_code")
        return Response(TeamSerializer(team_join(invite_code=code, by=request.user)).data)


# --- submissions ---------------------------------------------------------------------------------
class SubmissionListView(CompetitionAPIView, ListAPIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = SubmissionSerializer

    def get_queryset(self) -> QuerySet[Submission]:
        competition = self.competition()
        submissions = submissions_visible(user=self.request.user, competition=competition)
        if submissions is None:
            raise NotPermitted(_("You are not in a team of this competition."))
        if self.request.query_params.get("phase"):
            submissions = submissions.filter(phase=self.phase(competition, self.request.query_params["phase"]))
        return submissions.select_related("phase")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if "slug" in self.kwargs:  # absent while the schema is generated
            context["is_host"] = is_host(user=self.request.user, competition=self.competition())
        return context

    @extend_schema(
        operation_id="competition_submissions_list",
        summary="My team's submissions",
        description="Newest first; a host sees every team's.",
        parameters=[OpenApiParameter("phase", OpenApiTypes.INT, description="Only this phase's.")],
        responses={200: SubmissionSerializer(many=True), **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    @extend_schema(
        operation_id="competition_submission_create",
        summary="Submit",
        description=(
            "A multipart upload. The submission is stored and queued for scoring, or refused with a reason "
            "(wrong kind or file type, too large, missing columns, phase closed, over the team's limit) and "
            "nothing is stored. Follow it at its status endpoint."
        ),
        request={"multipart/form-data": SubmissionCreateSerializer},
        responses={201: SubmissionDetailSerializer, **REFUSALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        competition = self.competition()
        form = SubmissionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        phase = self.phase(competition, form.validated_data.get("phase"))
        team = team_of(user=request.user, competition=competition)
        if team is None:
            raise NotPermitted(_("You are not in a team of this competition."))
        submission = submission_create(
            phase=phase,
            team=team,
            upload=form.validated_data["file"],
            kind=form.validated_data["kind"],
            by=request.user,
            description=form.validated_data["description"],
        )
        data = SubmissionDetailSerializer(submission, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class SubmissionView(CompetitionAPIView):
    """One submission, for its team and the competition's hosts (a 404 for anyone else)."""

    permission_classes = [IsAuthenticated]

    def submission(self) -> tuple[Submission, dict[str, Any]]:
        competition = self.competition()
        submissions = submissions_visible(user=self.request.user, competition=competition)
        if submissions is None:
            raise Http404
        submission = get_object_or_404(submissions.select_related("phase", "team"), pk=self.kwargs["pk"])
        context = {**self.get_serializer_context(), "is_host": is_host(user=self.request.user, competition=competition)}
        return submission, context


class SubmissionDetailView(SubmissionView):
    serializer_class = SubmissionDetailSerializer

    @extend_schema(
        operation_id="competition_submission_retrieve",
        summary="A submission",
        responses={200: SubmissionDetailSerializer, **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        submission, context = self.submission()
        return Response(SubmissionDetailSerializer(submission, context=context).data)


class SubmissionStatusView(SubmissionView):
    serializer_class = SubmissionStatusSerializer

    @extend_schema(
        operation_id="competition_submission_status",
        summary="A submission's status",
        description="Small enough to poll about once a second: status, progress, queue position, scores or reason.",
        responses={200: SubmissionStatusSerializer, **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        submission, context = self.submission()
        return Response(SubmissionStatusSerializer(submission, context=context).data)


class FinalSelectionView(SubmissionView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    serializer_class = FinalSelectionSerializer

    @extend_schema(
        operation_id="competition_submission_final",
        summary="Select a submission for the final ranking (or drop it)",
        request=FinalSelectionSerializer,
        responses={200: SubmissionSerializer, **REFUSALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        submission, context = self.submission()
        form = FinalSelectionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        submission = submission_select_final(
            submission=submission, by=request.user, selected=form.validated_data["selected"]
        )
        return Response(SubmissionSerializer(submission, context=context).data)


# --- leaderboards --------------------------------------------------------------------------------
class LeaderboardView(CompetitionAPIView):
    serializer_class = LeaderboardSerializer

    @extend_schema(
        operation_id="competition_leaderboard",
        summary="A phase's leaderboard",
        description=(
            "Each team's best visible submission, best first; ties go to the earlier submission. The public "
            "split while the phase runs; the private one once the host has closed it (a 404 before)."
        ),
        parameters=[
            PHASE_PARAMETER,
            OpenApiParameter("split", OpenApiTypes.STR, enum=list(SPLITS), description="Default: public."),
            OpenApiParameter("page", OpenApiTypes.INT, description="From 1."),
            OpenApiParameter("size", OpenApiTypes.INT, description="Teams per page, 1–200; default 50."),
        ],
        responses={200: LeaderboardSerializer, **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = request.query_params
        phase = self.competition_phase(params.get("phase"))
        split = params.get("split") or SPLIT_PUBLIC
        if split not in SPLITS:
            raise exceptions.ValidationError({"split": [_("Choose public or private.")]})
        try:
            page_number, size = int(params.get("page") or 1), int(params.get("size") or 50)
        except ValueError:
            raise exceptions.ValidationError({"page": [_("Page and size are whole numbers.")]}) from None
        board = leaderboard(phase=phase, split=split, page=page_number, size=size)
        url = request.build_absolute_uri()
        data = {
            **{field.name: getattr(board, field.name) for field in dataclasses.fields(board)},
            "pages": board.pages,
            "next": replace_query_param(url, "page", board.page + 1) if board.page < board.pages else None,
            "previous": replace_query_param(url, "page", board.page - 1) if board.page > 1 else None,
        }
        return Response(LeaderboardSerializer(data).data)

"""GET /api/v1/search/: the search page's results as JSON; a parameter it cannot use is a 400 naming it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.search.api.serializers import SearchErrorSerializer, SearchResultsSerializer
from hub.search.indices import facets, kinds
from hub.search.params import params_from
from hub.search.queries import MAX_SIZE, SORTS, InvalidSearch, search


def _facet_parameters() -> list[OpenApiParameter]:
    parameters = []
    for name, (facet, kind) in facets().items():
        if facet.buckets:
            enum: list[str] | None = [bucket.key for bucket in facet.buckets]
        elif facet.choices is not None:
            enum = list(facet.choices())
        else:
            enum = None
        parameters.append(
            OpenApiParameter(
                name,
                OpenApiTypes.STR,
                many=True,
                enum=enum,
                description=f"Filter {kind.name} by {name}; repeat for several values (any of them matches).",
            )
        )
    return parameters


class SearchView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="search",
        summary="Search scenarios, policies and news, and organisations",
        description=(
            "Full-text search across kinds in Chinese and English, with per-kind counts, facets, highlighted "
            "snippets and a spelling suggestion. An empty `q` lists everything, newest first. A query longer "
            "than 200 characters is cut (see `notices`). If the search cluster is unavailable the answer still "
            "comes, from the database, with `degraded: true`."
        ),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Query text; no syntax, any characters."),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=[kind.name for kind in kinds()], description="One tab."),
            OpenApiParameter("sort", OpenApiTypes.STR, enum=list(SORTS), description="Default: relevance."),
            OpenApiParameter("page", OpenApiTypes.INT, description="From 1; up to the 10,000th result."),
            OpenApiParameter("size", OpenApiTypes.INT, description=f"Results per page, 1–{MAX_SIZE}; default 20."),
            *_facet_parameters(),
        ],
        responses={200: SearchResultsSerializer, 400: SearchErrorSerializer},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            params = params_from(request.query_params, strict=True, allow_size=True)
            results = search(**params.search_kwargs())
        except InvalidSearch as error:
            return Response({"field": error.field, "detail": error.reason}, status=400)
        return Response(SearchResultsSerializer(results).data)

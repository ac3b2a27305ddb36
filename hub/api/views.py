"""POST /api/v1/auth/token/: trade a username and password for the account's API token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class TokenView(APIView):
    """One token per account, created on first sign-in and returned again afterwards. Bad credentials
    are a 400 whose `detail` says so; the anonymous throttle limits guessing."""

    authentication_classes: list[type] = []  # a stale token or session must not stand in the way of signing in
    permission_classes: list[type] = []

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get the API token of an account",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField(), "username": serializers.CharField()}),
            400: inline_serializer(
                "TokenRefused",
                {
                    "detail": serializers.CharField(),
                    "code": serializers.CharField(help_text="credentials_invalid or invalid (a field is missing)"),
                    "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
                },
            ),
        },
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            # The answer has the API's refusal shape: {detail, code, errors naming fields}.
            errors = dict(serializer.errors)
            reasons = errors.pop("non_field_errors", None)
            if reasons:
                return Response(
                    {"detail": str(reasons[0]), "code": "credentials_invalid", "errors": errors}, status=400
                )
            field, messages = next(iter(errors.items()))
            return Response({"detail": f"{field}: {messages[0]}", "code": "invalid", "errors": errors}, status=400)
        user = serializer.validated_data["user"]
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "username": user.get_username()})

"""The open API's plumbing: signing in for a token, token and session authentication, throttles."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


def test_a_username_and_password_get_the_accounts_one_token():
    user = UserFactory()
    first = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert first.status_code == 200
    assert first.json() == {"token": Token.objects.get(user=user).key, "username": user.username}
    again = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD})  # a form works too
    assert again.json()["token"] == first.json()["token"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"username": "nobody", "password": "x"}, "Unable to log in with provided credentials."),
        ({"username": "user", "password": ""}, "password: This field may not be blank."),
        ({}, "username: This field is required."),
    ],
    ids=["bad-credentials", "blank-password", "nothing"],
)
def test_bad_credentials_are_a_400_with_the_reason_and_no_token(body, reason):
    UserFactory(username="user")
    response = APIClient().post(TOKEN_URL, body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["detail"] == reason
    assert not Token.objects.exists()


def test_the_reason_is_in_chinese_unless_the_caller_asks_for_english():
    response = APIClient().post(TOKEN_URL, {"username": "nobody", "password": "x"}, format="json")
    assert response.json()["detail"] == "无法使用提供的认证信息登录。"


def test_a_wrong_password_of_a_real_account_gets_nothing():
    user = UserFactory()
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": "guess"}, format="json")
    assert response.status_code == 400 and "token" not in response.json()
    assert response.json()["code"] == "credentials_invalid"


def test_the_token_and_the_session_both_authenticate():
    user = UserFactory()
    me = "/api/v1/competitions/no-such/team/"  # needs a signed-in caller before anything else: 401 or 404
    assert APIClient().get(me).status_code == 401
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert with_token.get(me).status_code == 404
    with_session = APIClient()
    with_session.force_login(user)
    assert with_session.get(me).status_code == 404
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert forged.get(me).status_code == 401


def test_anonymous_callers_are_throttled_by_address(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "3/minute", "user": None}}
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"  # a fresh throttle history
    client = APIClient(REMOTE_ADDR=address)
    statuses = [client.get("/api/v1/competitions/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert APIClient(REMOTE_ADDR=f"{address}1").get("/api/v1/competitions/").status_code == 200  # others go on


def test_signed_in_callers_are_throttled_by_account(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": None, "user": "2/minute"}}
    user, other = UserFactory(), UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    assert [client.get("/api/v1/competitions/").status_code for _ in range(3)] == [200, 200, 429]
    other_client = APIClient()
    other_client.force_authenticate(other)
    assert other_client.get("/api/v1/competitions/").status_code == 200


def test_anonymous_callers_count_against_the_address_only(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": None, "user": "1/minute"}}
    client = APIClient(REMOTE_ADDR=f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.8")
    assert [client.get("/api/v1/competitions/").status_code for _ in range(3)] == [200, 200, 200]

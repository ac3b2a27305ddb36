import pytest

from hub.accounts.models import User

pytestmark = pytest.mark.django_db


def test_signup_with_mismatched_passwords_shows_the_error_and_creates_nobody(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "lilei",
            "email": "lilei@example.cn",
            "password1": "Xq7!long-pass",
            "password2": "different",
        },
    )
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not User.objects.filter(username="lilei").exists()


def test_signup_signs_the_new_user_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "lilei",
            "email": "lilei@example.cn",
            "password1": "Xq7!long-pass",
            "password2": "Xq7!long-pass",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    assert client.get("/notifications/").status_code == 200


@pytest.mark.parametrize(("prefix", "language", "text"), [("", "zh-hans", "登录"), ("/en", "en", "Sign in")])
def test_the_sign_in_page_speaks_both_languages(client, prefix, language, text):
    response = client.get(f"{prefix}/accounts/login/", headers={"Accept-Language": "en"})  # the path decides
    assert text in response.content.decode()
    assert f'lang="{language}"' in response.content.decode()

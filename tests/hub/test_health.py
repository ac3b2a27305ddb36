import pytest


def test_healthz_answers_without_touching_any_service(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_every_service_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert {name: check["ok"] for name, check in response.json()["checks"].items()} == {
        "database": True,
        "redis": True,
        "kafka": True,
        "search": True,
    }


@pytest.mark.django_db
def test_readyz_names_the_service_that_is_down(client, settings):
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["search"]["ok"] is False and checks["database"]["ok"] is True

"""Notifications: stored, pushed live over the real Redis channel layer, e-mailed by a real Celery worker."""

import sys

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import transaction

from hub.asgi import application
from hub.notifications.models import DevMail, EmailDelivery, Notification
from hub.notifications.services import email_preferences_set, notification_create, push
from tests.factories import UserFactory
from tests.support import wait_for


@pytest.mark.django_db
def test_a_user_who_turned_a_kind_off_gets_no_email_of_that_kind():
    user = UserFactory()
    email_preferences_set(user=user, choices={"accounts.membership.granted": False})
    notification_create(user=user, kind="accounts.membership.granted", title="t")
    notification_create(user=user, kind="accounts.user.registered", title="welcome")
    assert list(EmailDelivery.objects.values_list("subject", flat=True)) == ["welcome"]
    assert Notification.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_one_event_notifies_a_user_once():
    user = UserFactory()
    event_id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert notification_create(user=user, kind="k", title="t", event_id=event_id) is not None
    assert notification_create(user=user, kind="k", title="t", event_id=event_id) is None
    assert Notification.objects.count() == 1


def test_a_real_celery_worker_sends_the_email(start_process):
    worker = start_process(
        sys.executable,
        "-m",
        "celery",
        "-A",
        "hub",
        "worker",
        "--pool",
        "solo",
        "--queues",
        "default",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        manage=False,
    )
    user = UserFactory(email="meimei@example.cn")
    with transaction.atomic():
        notification_create(user=user, kind="accounts.user.registered", title="欢迎加入皖智汇", body="你好")
    wait_for(lambda: EmailDelivery.objects.filter(status="sent").exists(), timeout=60)
    mail = DevMail.objects.get()
    assert (mail.to, mail.subject, mail.body) == ("meimei@example.cn", "欢迎加入皖智汇", "你好")
    assert worker.poll() is None


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_page_receives_its_users_notifications_live(client):
    user, stranger = UserFactory(), UserFactory()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario() -> tuple[dict, bool]:
        page = WebsocketCommunicator(
            application,
            "/ws/notifications/",
            headers=[(b"cookie", cookie), (b"origin", b"http://testserver")],
        )
        connected, _ = await page.connect()
        assert connected
        await sync_push(stranger.pk, {"type": "notification.created", "id": 1, "title": "not yours", "url": ""})
        await sync_push(user.pk, {"type": "notification.created", "id": 2, "title": "你的", "url": "/x"})
        received = await page.receive_json_from(timeout=5)
        nothing_else = await page.receive_nothing(timeout=0.3)
        await page.disconnect()
        return received, nothing_else

    from asgiref.sync import sync_to_async

    sync_push = sync_to_async(push)
    received, nothing_else = async_to_sync(scenario)()
    assert received == {"id": 2, "title": "你的", "url": "/x", "event": "created"}
    assert nothing_else


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_page_cannot_listen():
    async def scenario() -> bool:
        page = WebsocketCommunicator(application, "/ws/notifications/", headers=[(b"origin", b"http://testserver")])
        connected, _ = await page.connect()
        return connected

    assert async_to_sync(scenario)() is False

import pytest

from hub.notifications.kinds import KINDS
from hub.notifications.models import DevMail, EmailPreference, Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_notifications_need_a_signed_in_user(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_list_shows_the_empty_state_then_my_notifications_only(client):
    me = UserFactory()
    client.force_login(me)
    assert "Nothing yet" in client.get("/en/notifications/").content.decode()
    Notification.objects.create(user=me, kind="k", title="评审任务已分配")
    Notification.objects.create(user=UserFactory(), kind="k", title="别人的通知")
    page = client.get("/notifications/").content.decode()
    assert "评审任务已分配" in page and "别人的通知" not in page


def test_mark_all_read(client):
    me = UserFactory()
    Notification.objects.create(user=me, kind="k", title="a")
    client.force_login(me)
    assert client.post("/notifications/read/").status_code == 302
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_marking_with_bad_ids_is_a_form_error_not_a_crash(client):
    me = UserFactory()
    Notification.objects.create(user=me, kind="k", title="a")
    client.force_login(me)
    response = client.post("/notifications/read/", {"ids": "1,abc"}, follow=True)
    assert response.status_code == 200
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_email_choices_are_saved_per_kind(client):
    me = UserFactory()
    client.force_login(me)
    form = client.get("/notifications/preferences/").context["form"]
    assert set(form.fields) == {kind.name for kind in KINDS.values()}  # one choice per kind of notification
    client.post("/notifications/preferences/", {"accounts.user.registered": "on"})
    saved = dict(EmailPreference.objects.filter(user=me).values_list("kind", "enabled"))
    assert saved["accounts.user.registered"] is True
    assert saved["accounts.membership.granted"] is False  # left unticked


def test_the_dev_mailbox_exists_only_in_development(client, settings):
    DevMail.objects.create(to="a@example.cn", from_email="x", subject="测试邮件", body="b")
    settings.DEV_MAILBOX_ENABLED = False
    assert client.get("/dev/mail/").status_code == 404
    settings.DEV_MAILBOX_ENABLED = True
    assert "测试邮件" in client.get("/dev/mail/").content.decode()

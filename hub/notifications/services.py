"""Writes: notify a user (in-app, live push, and e-mail if they want it), mark read, set preferences."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from hub.accounts.models import User
from hub.notifications.models import EmailDelivery, EmailPreference, Notification
from hub.notifications.tasks import email_send


def user_group(user_id: int) -> str:
    """The Channels group a user's open pages listen on."""
    return f"notifications.user.{user_id}"


def wants_email(*, user: User, kind: str) -> bool:
    if not user.email:
        return False
    preference = EmailPreference.objects.filter(user=user, kind=kind).first()
    return preference.enabled if preference else True


def notification_create(
    *,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    event_id: uuid.UUID | str | None = None,
) -> Notification | None:
    """Store a notification; push it live and queue its e-mail once the transaction commits.

    Returns None if this event already notified this user (the unique constraint says so).
    """
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user=user, kind=kind, title=title, body=body, url=url, event_id=event_id
            )
    except IntegrityError:
        return None
    if wants_email(user=user, kind=kind):
        delivery = EmailDelivery.objects.create(notification=notification, to=user.email, subject=title, body=body)
        transaction.on_commit(lambda: email_send.delay(delivery.pk))
    payload = {"type": "notification.created", "id": notification.pk, "title": title, "url": url}
    transaction.on_commit(lambda: push(user.pk, payload))
    return notification


def push(user_id: int, payload: dict) -> None:
    """Send a message to the user's open pages; a push is best effort, the stored row is the record."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(user_id), payload)


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark some (or all) of the user's unread notifications read; returns how many changed."""
    unread: QuerySet[Notification] = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


def email_preferences_set(*, user: User, choices: dict[str, bool]) -> None:
    with transaction.atomic():
        for kind, enabled in choices.items():
            EmailPreference.objects.update_or_create(user=user, kind=kind, defaults={"enabled": enabled})

"""Reads for the notification pages."""

from django.db.models import QuerySet

from hub.accounts.models import User
from hub.notifications.models import EmailPreference, Notification


def notifications_for(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def email_choices(*, user: User, kinds: list[str]) -> dict[str, bool]:
    """Every kind of e-mail the platform sends, with this user's choice (default: on)."""
    stored = dict(EmailPreference.objects.filter(user=user).values_list("kind", "enabled"))
    return {kind: stored.get(kind, True) for kind in kinds}

"""Apply one event: one notification per recipient, in the recipient's language."""

from typing import Any

from django.utils import translation

from hub.accounts.models import User
from hub.events.consumer import current_envelope
from hub.notifications.kinds import KINDS
from hub.notifications.services import notification_create


class RecipientMissing(LookupError):
    """An event names a user this database does not have (yet): retried, then dead-lettered."""


def notify(event: Any) -> None:
    kind = KINDS[event.type_name]
    wanted = set(event.recipients)
    users = list(User.objects.filter(pk__in=wanted))
    missing = wanted - {user.pk for user in users}
    if missing:
        raise RecipientMissing(f"no user with id {', '.join(map(str, sorted(missing)))}")
    envelope = current_envelope()
    for user in users:
        if not user.is_active:
            continue
        with translation.override(user.language):
            message = kind.message(event, user.pk)
        notification_create(
            user=user,
            kind=kind.name,
            title=message.title,
            body=message.body,
            url=message.url,
            event_id=envelope.id,
        )

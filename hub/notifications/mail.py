"""A development mail backend that keeps every message in the database (listed at /dev/mail/)."""

from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from hub.notifications.models import DevMail


class DevMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        DevMail.objects.bulk_create(
            DevMail(to=", ".join(m.to), from_email=m.from_email, subject=m.subject, body=str(m.body))
            for m in email_messages
        )
        return len(email_messages)

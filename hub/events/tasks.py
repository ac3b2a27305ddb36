"""Housekeeping for the outbox and inbox (scheduled by Celery beat)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from hub.events.models import InboxEntry, OutboxEvent


@shared_task
def outbox_prune(*, outbox_days: int = 7, inbox_days: int = 30) -> int:
    """Delete sent outbox rows and old inbox rows. Inbox rows must outlive the dead-letter topic's
    retention (set below 30 days), or a replay could apply an old event twice."""
    now = timezone.now()
    sent, _ = OutboxEvent.objects.filter(sent_at__lt=now - timedelta(days=outbox_days)).delete()
    applied, _ = InboxEntry.objects.filter(applied_at__lt=now - timedelta(days=inbox_days)).delete()
    return sent + applied

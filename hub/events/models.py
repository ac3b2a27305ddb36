"""The outbox (events waiting for the relay) and the inbox (events each consumer has applied)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxEvent(models.Model):
    """One event written in its producer's transaction; the relay sends it and stamps `sent_at`."""

    event_id = models.UUIDField(unique=True)
    type = models.CharField(max_length=200)
    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    # crc32(key) % OUTBOX_SHARDS: a relay owns whole shards, so one key is only ever sent by one relay.
    shard = models.SmallIntegerField()
    body = models.TextField(help_text="The CloudEvent, exactly as it goes on the wire.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The relay reads unsent rows in id order; this keeps that read cheap however many rows were sent.
            models.Index(fields=["id"], name="outbox_unsent", condition=Q(sent_at__isnull=True)),
            models.Index(fields=["sent_at"], name="outbox_sent_at", condition=Q(sent_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class InboxEntry(models.Model):
    """An event a consumer has applied, written in the same transaction as the handler's effect."""

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    type = models.CharField(max_length=200)
    applied_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="inbox_once_per_consumer")]
        verbose_name_plural = "inbox entries"

    def __str__(self) -> str:
        return f"{self.consumer}: {self.type} {self.event_id}"

"""Notifications shown in the app, each user's e-mail choices, and e-mails queued for sending."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=100, help_text=_("The event type without its version"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    event_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]
        constraints = [
            # One event tells one user once, even if two consumers were to race on it.
            models.UniqueConstraint(fields=["user", "event_id"], name="notification_once_per_event"),
        ]

    def __str__(self) -> str:
        return self.title


class EmailPreference(models.Model):
    """A user's choice for one kind of e-mail; no row means the default, which is to send."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preferences")
    kind = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="email_preference_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {'on' if self.enabled else 'off'}"


class EmailDelivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    notification = models.OneToOneField(Notification, on_delete=models.CASCADE, related_name="email")
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.to}: {self.subject} ({self.status})"


class DevMail(models.Model):
    """A mail 'sent' in development, kept for the /dev/mail/ page instead of leaving the machine."""

    to = models.TextField()
    from_email = models.CharField(max_length=300)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"

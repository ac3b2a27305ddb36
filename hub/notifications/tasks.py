"""Sending queued e-mails (Celery work: retried, never inside a request or a consumer's transaction)."""

from celery import shared_task
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from hub.notifications.models import EmailDelivery


@shared_task(bind=True, max_retries=5, default_retry_delay=30)
def email_send(self, delivery_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one queued e-mail; a delivery already sent is left alone, so a duplicate task is harmless."""
    with transaction.atomic():
        delivery = EmailDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status == EmailDelivery.Status.SENT:
            return "skipped"
        delivery.attempts += 1
        try:
            send_mail(delivery.subject, delivery.body, None, [delivery.to])
        except OSError as exc:
            delivery.error = str(exc)
            delivery.status = EmailDelivery.Status.FAILED
            delivery.save(update_fields=["attempts", "error", "status"])
            raise self.retry(exc=exc) from exc
        delivery.status = EmailDelivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.error = ""
        delivery.save(update_fields=["attempts", "status", "sent_at", "error"])
    return "sent"

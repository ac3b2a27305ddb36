"""Scheduled work of compute credit (run by Celery beat)."""

import datetime

from celery import shared_task
from django.utils import timezone

from funds.credit.services import statements_announce


@shared_task(name="funds.credit.tasks.statements_announce_last_month")
def statements_announce_last_month() -> int:
    """Announce last month's statements; hourly, so a missed run catches up, and at most once each."""
    first_of_this_month = timezone.localdate().replace(day=1)
    last_month = (first_of_this_month - datetime.timedelta(days=1)).replace(day=1)
    return statements_announce(month=last_month)

"""What every aggregate the public reads shares: who made it, when it went out, and its revision."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PublishedAggregate(models.Model):
    """Abstract base of a context's published aggregate (a scenario, a competition, a fund call).

    `revision` is the version its events carry: 1 at the first publish, one more per later change,
    so consumers (the indexer) keep the newest and drop stale or redelivered events.
    """

    revision = models.PositiveIntegerField(_("revision"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

"""Compute credit accounts, their append-only ledger, card purchases, Stripe's webhook events, subsidy terms.

Amounts are CNY in Decimal: purchases to the fen; metered charges and balances to a hundredth of a fen,
because one second of CPU costs far less than a fen.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funds.models import MONEY_DIGITS, AppendOnlyModel, Fund, money_field
from hub.accounts.models import Organisation

CREDIT_PLACES = 4
CREDIT_QUANTUM = Decimal("0.0001")


def credit_field(verbose_name: Any, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=MONEY_DIGITS + 2, decimal_places=CREDIT_PLACES, **kwargs)


class CreditAccount(models.Model):
    """An organisation's compute credit. `balance` is the ledger's running total, kept on this one row so
    that purchases and charges take its lock in turn and `balance_after` on every entry is exact.

    The balance may go below zero: a scoring job is charged after it ran, whatever was left.
    """

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, related_name="credit_account", verbose_name=_("organisation")
    )
    balance = credit_field(_("balance (CNY)"), default=Decimal(0))
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("compute credit account")
        verbose_name_plural = _("compute credit accounts")

    def __str__(self) -> str:
        return f"{self.organisation}: {self.balance}"


class SubsidyProgramme(models.Model):
    """The terms on which a compute subsidy fund pays a share of organisations' metered compute.

    The programme active when a job finishes (its window holds the time; the latest start wins) pays
    `share` of the job's cost, as long as its fund has budget left; the fund's committed and disbursed
    amounts grow by what it pays, under the fund's row lock, so the budget is never overspent.
    """

    fund = models.OneToOneField(
        Fund,
        on_delete=models.PROTECT,
        related_name="subsidy_terms",
        limit_choices_to={"kind": Fund.Kind.COMPUTE_SUBSIDY},
        verbose_name=_("fund"),
    )
    share = models.DecimalField(
        _("share paid"), max_digits=3, decimal_places=2, help_text=_("The part of the cost paid, e.g. 0.50 for half.")
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    eligible_kinds = ArrayField(
        models.CharField(max_length=20, choices=Organisation.Kind.choices),
        default=list,
        blank=True,
        verbose_name=_("eligible organisation kinds"),
        help_text=_("Empty: every kind."),
    )

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(share__gt=0) & Q(share__lte=1), name="subsidy_share_in_range"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="subsidy_window_ordered"),
        ]
        verbose_name = _("compute subsidy terms")
        verbose_name_plural = _("compute subsidy terms")

    def __str__(self) -> str:
        return f"{self.fund}: {self.share:.0%}"


class CreditPurchase(models.Model):
    """One card payment for credit: a Stripe PaymentIntent and what became of it.

    The credit is added once, by whichever of Stripe's webhook or our own check of the PaymentIntent
    sees it succeed first (funds.credit.services.purchase_settle, under the account's lock).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        REQUIRES_ACTION = "requires_action", _("Awaiting card authentication")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="purchases")
    amount = money_field(_("amount (CNY)"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    payment_intent_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=200)
    failure_message = models.CharField(_("why it failed"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="credit_purchase_amount_positive")]
        verbose_name = _("credit purchase")
        verbose_name_plural = _("credit purchases")

    def __str__(self) -> str:
        return f"{self.account.organisation} ¥{self.amount} ({self.get_status_display()})"

    @property
    def amount_minor(self) -> int:
        """The amount in fen, as Stripe counts CNY."""
        return int(self.amount * 100)


class LedgerEntry(AppendOnlyModel):
    """One change of an account's credit: a purchase (+), a scoring job's metered usage (−), or the
    subsidy a programme paid towards that job (+).

    Append-only like the application trail: the model refuses saves of existing rows and deletes, and a
    trigger (migration 0002) refuses UPDATE and DELETE. A job is charged at most once per kind, a purchase
    credited at most once: the unique constraints make a redelivered event a no-op even past the inbox.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Credit bought")
        USAGE = "usage", _("Compute used")
        SUBSIDY = "subsidy", _("Subsidy")

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = credit_field(_("amount (CNY)"))
    balance_after = credit_field(_("balance after (CNY)"))
    purchase = models.OneToOneField(
        CreditPurchase, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entry"
    )
    job_id = models.UUIDField(null=True, blank=True)
    programme = models.ForeignKey(
        SubsidyProgramme, null=True, blank=True, on_delete=models.PROTECT, related_name="accruals"
    )
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["account", "at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job_id", "kind"], condition=Q(job_id__isnull=False), name="ledger_job_charged_once"
            ),
            models.CheckConstraint(
                condition=(Q(kind="purchase") & Q(amount__gt=0) & Q(purchase__isnull=False))
                | (Q(kind="usage") & Q(amount__lte=0) & Q(job_id__isnull=False))
                | (Q(kind="subsidy") & Q(amount__gt=0) & Q(job_id__isnull=False) & Q(programme__isnull=False)),
                name="ledger_entry_kind_consistent",
            ),
        ]
        indexes = [models.Index(fields=["account", "at"], name="ledger_account_at")]
        verbose_name = _("credit ledger entry")
        verbose_name_plural = _("credit ledger entries")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.amount}"


class StripeEvent(models.Model):
    """A Stripe webhook event we have applied, by Stripe's event id: a replay finds it and changes nothing."""

    id = models.CharField(primary_key=True, max_length=100)
    type = models.CharField(max_length=100)
    payment_intent_id = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class StatementNotice(models.Model):
    """That an account's members were told its statement of `month` is ready: once per account and month."""

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="statement_notices")
    month = models.DateField()  # the first day of the month
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="statement_notice_once")]
        verbose_name = _("statement notice")
        verbose_name_plural = _("statement notices")

    def __str__(self) -> str:
        return f"{self.account.organisation} {self.month:%Y-%m}"

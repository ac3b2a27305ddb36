"""Staff views of compute credit. Subsidy terms are set here; accounts, purchases and the ledger only
change through funds.credit.services (Stripe and metering), so they are read-only."""

from django.contrib import admin

from funds.credit.models import CreditAccount, CreditPurchase, LedgerEntry, StripeEvent, SubsidyProgramme
from hub.admin import ReadOnlyAdmin


@admin.register(SubsidyProgramme)
class SubsidyProgrammeAdmin(admin.ModelAdmin):
    list_display = ["fund", "share", "starts_at", "ends_at"]
    autocomplete_fields = ["fund"]


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "balance", "stripe_customer_id"]
    search_fields = ["organisation__name"]


@admin.register(CreditPurchase)
class CreditPurchaseAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "amount", "status", "payment_intent_id"]
    list_filter = ["status"]
    search_fields = ["payment_intent_id", "account__organisation__name"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "account", "kind", "amount", "balance_after", "job_id"]
    list_filter = ["kind"]
    search_fields = ["account__organisation__name", "job_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "id", "type", "payment_intent_id"]

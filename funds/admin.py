"""Django admin for funds: read-only, because every change must go through the services (which check
who may act, keep the budgets under their locks, append to the audit trail and publish events)."""

from django.contrib import admin

from funds.models import (
    Application,
    ApplicationEvent,
    Call,
    Conflict,
    Fund,
    MilestoneReport,
    Payment,
    PoolReviewer,
    Review,
    ReviewAssignment,
    RubricCriterion,
    Tranche,
)
from hub.admin import ReadOnlyAdmin, ReadOnlyInline


class CriterionInline(ReadOnlyInline):
    model = RubricCriterion
    fields = ("position", "title", "weight", "max_score")
    readonly_fields = fields


class PoolInline(ReadOnlyInline):
    model = PoolReviewer
    fields = ("reviewer", "expertise")
    readonly_fields = fields


class TrailInline(ReadOnlyInline):
    model = ApplicationEvent
    fields = ("at", "actor", "action", "from_status", "to_status", "reason")
    readonly_fields = fields
    show_change_link = False


class TrancheInline(ReadOnlyInline):
    model = Tranche
    fields = ("position", "milestone", "amount", "due")
    readonly_fields = fields


@admin.register(Fund)
class FundAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "managing_organisation", "total_budget", "committed", "disbursed")
    list_filter = ("kind",)
    search_fields = ("name", "name_en", "managing_organisation__name")
    list_select_related = ("managing_organisation",)


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = ("title", "fund", "status", "opens_at", "closes_at", "budget_envelope", "committed", "disbursed")
    list_filter = ("status", "blind_review")
    search_fields = ("title", "title_en", "fund__name")
    list_select_related = ("fund",)
    inlines = [CriterionInline, PoolInline]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("title", "call", "organisation", "status", "requested_amount", "approved_amount", "locked")
    list_filter = ("status", "locked")
    search_fields = ("title", "organisation__name", "call__title")
    list_select_related = ("call", "organisation")
    date_hierarchy = "created_at"
    inlines = [TrailInline, TrancheInline]


@admin.register(Conflict)
class ConflictAdmin(ReadOnlyAdmin):
    list_display = ("reviewer", "application", "organisation", "recorded_by", "created_at")
    search_fields = ("reviewer__username", "organisation__name", "application__title")


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("application", "reviewer", "manual", "assigned_at", "revoked_at")
    list_filter = ("manual",)
    list_select_related = ("application", "reviewer")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("assignment", "total", "submitted_at")


@admin.register(MilestoneReport)
class MilestoneReportAdmin(ReadOnlyAdmin):
    list_display = ("tranche", "status", "submitted_by", "submitted_at", "reviewed_by", "reviewed_at")
    list_filter = ("status",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("reference", "tranche", "amount", "paid_at", "recorded_by")
    search_fields = ("reference",)

"""Django admin for competitions: read-only, because every change must go through the services (which
check the rules, keep quotas and leaderboards right, audit host actions and publish events).

Hidden data files show their name and checksum only: the admin never links to them."""

from django.contrib import admin

from competitions.models import (
    AuditEntry,
    Baseline,
    Competition,
    DataFile,
    Phase,
    Submission,
    Team,
    TeamMembership,
)
from hub.admin import ReadOnlyAdmin, ReadOnlyInline


class PhaseInline(ReadOnlyInline):
    model = Phase
    fields = ("name", "starts_at", "ends_at", "resources", "primary_metric", "daily_limit", "closed_at")
    readonly_fields = fields


class MembershipInline(ReadOnlyInline):
    model = TeamMembership
    fields = ("user", "joined_at")
    readonly_fields = fields


@admin.register(Competition)
class CompetitionAdmin(ReadOnlyAdmin):
    list_display = ("title", "slug", "host", "status", "revision", "published_at")
    list_filter = ("status",)
    search_fields = ("title", "title_en", "slug", "host__name")
    list_select_related = ("host",)
    inlines = [PhaseInline]


@admin.register(Phase)
class PhaseAdmin(ReadOnlyAdmin):
    list_display = ("name", "competition", "starts_at", "ends_at", "resources", "primary_metric", "closed_at")
    list_filter = ("resources",)
    search_fields = ("name", "competition__title")
    list_select_related = ("competition",)


@admin.register(DataFile)
class DataFileAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "phase", "role", "size", "sha256", "uploaded_at")
    list_filter = ("role",)
    # `file` is left out on purpose: its path must not be shown, even to staff browsing the admin.
    fields = ("phase", "role", "original_name", "description", "size", "sha256", "uploaded_by", "uploaded_at")
    readonly_fields = fields


@admin.register(Baseline)
class BaselineAdmin(ReadOnlyAdmin):
    list_display = ("name", "phase", "created_at")


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ("name", "competition", "organisation", "size_limit", "disqualified", "created_at")
    list_filter = ("disqualified",)
    search_fields = ("name", "competition__title", "organisation__name")
    list_select_related = ("competition", "organisation")
    exclude = ("invite_code",)  # a code shown is a code shared
    inlines = [MembershipInline]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ("id", "team", "phase", "kind", "status", "public_score", "hidden", "created_at")
    list_filter = ("status", "kind", "hidden", "platform_failure")
    search_fields = ("team__name", "sha256", "original_name")
    list_select_related = ("team", "phase")
    date_hierarchy = "created_at"
    exclude = ("file",)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "competition", "action", "actor", "reason")
    list_filter = ("action",)
    search_fields = ("competition__title", "reason")
    list_select_related = ("competition", "actor")

"""Django admin for scenarios and proposals: read-only, because every change must go through the
services (which check the rules, count revisions and publish events)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from hub.scenarios.models import Proposal, ProposalAttachment, Scenario


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProposalInline(admin.TabularInline):
    model = Proposal
    fields = ("organisation", "status", "submitted_at", "price")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Scenario)
class ScenarioAdmin(ReadOnlyAdmin):
    list_display = ("title", "organisation", "sector", "city", "status", "revision", "deadline", "published_at")
    list_filter = ("status", "sector")
    search_fields = ("title", "title_en", "organisation__name", "city")
    date_hierarchy = "published_at"
    list_select_related = ("organisation",)
    inlines = [ProposalInline]


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ("scenario", "organisation", "status", "submitted_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("scenario__title", "organisation__name", "summary")
    list_select_related = ("scenario", "organisation")
    fields = (
        "scenario",
        "organisation",
        "status",
        "summary",
        "capabilities",
        "references",
        "price",
        "timeline",
        "submitted_by",
        "submitted_at",
        "files",
    )
    readonly_fields = fields

    @admin.display(description=_("files"))
    def files(self, proposal: Proposal) -> str:
        """Links to the permission-checked download view (the files have no public URL)."""
        attachments: list[ProposalAttachment] = list(proposal.attachments.all())
        if not attachments:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> ({} bytes)</li>',
                ((a.get_absolute_url(), a.original_name, a.size) for a in attachments),
            ),
        )

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import Membership, Organisation, User
from hub.accounts.services import PROFILE_FIELDS, membership_grant, organisation_update_profile


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["organisation"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Wanzhi"), {"fields": ("display_name", "language")}),
    )
    list_display = ("username", "display_name", "email", "is_staff")
    inlines = [MembershipInline]

    def save_formset(self, request, form, formset, change):  # type: ignore[no-untyped-def]
        """New memberships go through membership_grant, so the member is told like any other grant."""
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            membership.delete()
        for membership in memberships:
            if membership.pk is None:
                membership_grant(
                    user=membership.user, organisation=membership.organisation, role=membership.role, by=request.user
                )
            else:
                membership.save()
        return None


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "region", "profile_version")
    list_filter = ("kind",)
    search_fields = ("name", "name_en")
    readonly_fields = ("profile_version",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        """A changed profile goes through organisation_update_profile (a new version, published, so
        search and matching follow); what is not the profile (the kind) is saved as it is."""
        if not change:
            return super().save_model(request, obj, form, change)
        profile = {name: form.cleaned_data[name] for name in PROFILE_FIELDS if name in form.changed_data}
        rest = [name for name in form.changed_data if name not in PROFILE_FIELDS]
        if rest:
            obj.save(update_fields=rest)
        if profile:
            updated = organisation_update_profile(organisation=obj, by=request.user, fields=profile)
            obj.profile_version = updated.profile_version
        return None

"""The application form builder in the Wagtail admin: forms are snippets with drafts and revisions, and
publishing one freezes its questions as a new version (funds.services.form_version_freeze)."""

from typing import Any

from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from wagtail.signals import published
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from funds import services
from funds.models import ApplicationForm


class ApplicationFormViewSet(SnippetViewSet):
    model = ApplicationForm
    icon = "form"
    menu_label = _("Application forms")
    add_to_admin_menu = True
    list_display = ["name", "live", "latest_revision_created_at"]
    search_fields = ["name", "name_en"]


register_snippet(ApplicationFormViewSet)


@receiver(published, sender=ApplicationForm)
def freeze_published_form(sender: type[ApplicationForm], instance: ApplicationForm, **kwargs: Any) -> None:
    """Inside the publishing transaction: the version exists exactly when the form is live."""
    services.form_version_freeze(form=instance)

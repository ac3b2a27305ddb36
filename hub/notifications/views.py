"""Pages: my notifications, my e-mail choices, and the development mailbox."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hub.notifications import selectors, services
from hub.notifications.forms import EmailPreferencesForm, MarkReadForm
from hub.notifications.kinds import kind_names
from hub.notifications.models import DevMail


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_for(user=request.user), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {"page": page, "unread": selectors.unread_count(user=request.user)},
    )


@login_required
@require_POST
def notification_mark_read(request: HttpRequest) -> HttpResponse:
    form = MarkReadForm(request.POST)
    if form.is_valid():
        changed = services.notifications_mark_read(user=request.user, ids=form.cleaned_data["ids"])
        messages.success(request, _("%(count)d marked as read.") % {"count": changed})
    else:
        messages.error(request, form.errors["ids"][0])
    return redirect("notifications:list")


@login_required
def email_preferences(request: HttpRequest) -> HttpResponse:
    current = selectors.email_choices(user=request.user, kinds=kind_names())
    form = EmailPreferencesForm(request.POST or None, initial_choices=current)
    if request.method == "POST" and form.is_valid():
        services.email_preferences_set(user=request.user, choices=form.choices())
        messages.success(request, _("Your e-mail choices are saved."))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})


def dev_mailbox(request: HttpRequest) -> HttpResponse:
    """Mails kept by the development backend; this page does not exist outside development."""
    if not settings.DEV_MAILBOX_ENABLED:
        raise Http404
    page = Paginator(DevMail.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "notifications/dev_mailbox.html", {"page": page})

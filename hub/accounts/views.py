"""Account pages: sign up (sign in and out are Django's own views)."""

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation

from hub.accounts.forms import SignupForm
from hub.accounts.services import user_register


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_register(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
            language=translation.get_language() or "zh-hans",
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("notifications:list")
    return render(request, "registration/signup.html", {"form": form})

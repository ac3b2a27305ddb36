from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from hub.accounts.models import User


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=_("E-mail"), help_text=_("Notifications are sent here."))
    display_name = forms.CharField(label=_("Name shown to others"), max_length=150, required=False)

    class Meta:
        model = User
        fields = ("username", "email", "display_name")

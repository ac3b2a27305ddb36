"""Forms of the compute credit pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from funds.credit.services import CreditRefused, purchase_amount_parse

# Stripe's documented test cards, in the order a tester wants them.
TEST_CARDS = [
    ("4242424242424242", _("4242 4242 4242 4242: the payment succeeds")),
    ("4000002760003184", _("4000 0027 6000 3184: asks for 3-D Secure authentication")),
    ("4000000000000002", _("4000 0000 0000 0002: declined")),
    ("4000000000000341", _("4000 0000 0000 0341: declined when charged")),
]


class BuyForm(forms.Form):
    amount = forms.CharField(
        label=_("Amount (CNY)"),
        max_length=20,
        help_text=_("Between ¥10 and ¥100,000; whole yuan or to the fen."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def clean_amount(self) -> Decimal:
        try:
            return purchase_amount_parse(self.cleaned_data["amount"])
        except CreditRefused as refusal:
            raise forms.ValidationError(str(refusal)) from None


class TestCardForm(forms.Form):
    """A test card, as Stripe's test mode takes it; only shown against the fake Stripe."""

    number = forms.ChoiceField(label=_("Test card"), choices=TEST_CARDS, widget=forms.RadioSelect)
    exp_month = forms.IntegerField(label=_("Expiry month"), min_value=1, max_value=12, initial=12)
    exp_year = forms.IntegerField(label=_("Expiry year"), min_value=2020, max_value=2099, initial=2030)
    cvc = forms.RegexField(label=_("CVC"), regex=r"^[0-9]{3}$", initial="123", max_length=3)

    def card(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "number": data["number"],
            "exp_month": data["exp_month"],
            "exp_year": data["exp_year"],
            "cvc": data["cvc"],
        }


class MonthField(forms.DateField):
    input_formats = ["%Y-%m"]

"""The compute credit pages: an organisation's balance, ledger and statements, buying credit by card, the
subsidy programme's accruals for its managers, and Stripe's webhook."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from funds.credit import selectors, services
from funds.credit.forms import BuyForm, TestCardForm
from funds.credit.models import CreditPurchase, SubsidyProgramme
from funds.credit.payments import PaymentError
from funds.credit.services import CreditRefused, WebhookRefused
from hub.accounts.models import Organisation, User
from hub.csv_stream import csv_lines

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _organisation(request: HttpRequest, pk: int) -> Organisation:
    """An organisation whose credit the user may see; a 404 otherwise (no hint that it exists)."""
    organisation = get_object_or_404(Organisation, pk=pk)
    if not selectors.may_use_credit(user=_user(request), organisation=organisation):
        raise Http404(_("No such account."))
    return organisation


def _month(value: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise Http404(_("No such month.")) from None


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The user's organisations; with one, straight to its account."""
    organisations = list(selectors.credit_organisations(user=_user(request)))
    if len(organisations) == 1:
        return redirect("funds_credit:account", organisations[0].pk)
    return render(request, "funds_credit/overview.html", {"organisations": organisations})


@login_required
def account(request: HttpRequest, pk: int) -> HttpResponse:
    """Balance, buying more, the ledger (paged), recent purchases and the monthly statements."""
    organisation = _organisation(request, pk)
    form = BuyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            purchase = services.purchase_start(
                organisation=organisation, amount=form.cleaned_data["amount"], by=_user(request)
            )
        except (CreditRefused, PaymentError) as refusal:
            form.add_error(None, str(refusal))
        else:
            return redirect("funds_credit:purchase", purchase.pk)
    return render(
        request,
        "funds_credit/account.html",
        {
            "organisation": organisation,
            "balance": selectors.balance(organisation=organisation),
            "form": form,
            "page_obj": Paginator(selectors.ledger(organisation=organisation), PAGE_SIZE).get_page(
                request.GET.get("page")
            ),
            "purchases": selectors.purchases(organisation=organisation)[:5],
            "months": selectors.statement_months(organisation=organisation),
            "prices": settings.COMPUTE_CREDIT,
        },
        status=400 if form.errors else 200,
    )


def _purchase(request: HttpRequest, purchase_id: str) -> CreditPurchase:
    purchase = selectors.purchase_of(user=_user(request), purchase_id=purchase_id)
    if purchase is None:
        raise Http404(_("No such payment."))
    return purchase


@login_required
def purchase(request: HttpRequest, purchase_id: str) -> HttpResponse:
    """A payment: take the card (the test-card form against the fake Stripe, Stripe's Payment Element
    otherwise), the 3-D Secure step, then the outcome. Looking asks Stripe how it stands."""
    current = services.purchase_sync(purchase=_purchase(request, purchase_id))
    return _purchase_page(request, current, TestCardForm())


def _purchase_page(
    request: HttpRequest, purchase: CreditPurchase, card_form: TestCardForm, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "purchase": purchase,
        "card_form": card_form,
        "test_cards": settings.STRIPE_TEST_CARDS,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "return_url": request.build_absolute_uri(),
    }
    return render(request, "funds_credit/purchase.html", context, status=status)


@login_required
@require_POST
def purchase_pay(request: HttpRequest, purchase_id: str) -> HttpResponse:
    """The test-card form's submit (development and tests only)."""
    if not settings.STRIPE_TEST_CARDS:
        raise Http404(_("Cards are taken by Stripe's own form here."))
    current = _purchase(request, purchase_id)
    form = TestCardForm(request.POST)
    if not form.is_valid():
        return _purchase_page(request, current, form, status=400)
    try:
        current = services.purchase_pay_with_test_card(purchase=current, card=form.card(), by=_user(request))
    except CreditRefused as refusal:
        messages.error(request, str(refusal))
    return redirect("funds_credit:purchase", current.pk)


@login_required
@require_POST
def purchase_authenticate(request: HttpRequest, purchase_id: str) -> HttpResponse:
    """The 3-D Secure test step's answer: complete or fail the authentication."""
    if not settings.STRIPE_TEST_CARDS:
        raise Http404(_("Stripe authenticates cards itself here."))
    current = _purchase(request, purchase_id)
    try:
        services.purchase_authenticate_test(
            purchase=current, success=request.POST.get("outcome") == "complete", by=_user(request)
        )
    except CreditRefused as refusal:
        messages.error(request, str(refusal))
    return redirect("funds_credit:purchase", current.pk)


@login_required
def statement(request: HttpRequest, pk: int, month: str) -> HttpResponse:
    organisation = _organisation(request, pk)
    return render(
        request,
        "funds_credit/statement.html",
        {
            "statement": selectors.statement(organisation=organisation, month=_month(month)),
            "generated_at": timezone.now(),
        },
    )


@login_required
def statement_csv(request: HttpRequest, pk: int, month: str) -> StreamingHttpResponse:
    """The month's entries as CSV (with a BOM, so spreadsheet programs read the Chinese right)."""
    organisation = _organisation(request, pk)
    report = selectors.statement(organisation=organisation, month=_month(month))
    header = [
        _("time"),
        _("kind"),
        _("amount (CNY)"),
        _("balance after (CNY)"),
        _("device"),
        _("CPU seconds"),
        _("GPU seconds"),
        _("submission"),
    ]
    rows = (
        [
            timezone.localtime(entry.at).isoformat(timespec="seconds"),
            entry.get_kind_display(),
            entry.amount,
            entry.balance_after,
            entry.details.get("device", ""),
            entry.details.get("cpu_seconds", ""),
            entry.details.get("gpu_seconds", ""),
            entry.details.get("submission_id", ""),
        ]
        for entry in report.entries
    )
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="compute-credit-{organisation.pk}-{month}.csv"'
    return response


@login_required
def programme(request: HttpRequest, pk: int) -> HttpResponse:
    """A subsidy programme's accruals per organisation for a month, for the managers of its fund."""
    terms = get_object_or_404(SubsidyProgramme.objects.select_related("fund"), pk=pk)
    if not selectors.managed_programmes(user=_user(request)).filter(pk=terms.pk).exists():
        raise Http404(_("No such programme."))
    month = _month(request.GET["month"]) if request.GET.get("month") else timezone.localdate().replace(day=1)
    accruals = selectors.programme_accruals(programme=terms, month=month)
    return render(
        request,
        "funds_credit/programme.html",
        {"programme": terms, "month": month, "accruals": accruals, "total": sum(a.paid for a in accruals)},
    )


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's webhook: 400 unless Stripe signed it; 200 once applied, and for every replay."""
    try:
        outcome = services.stripe_webhook_apply(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except WebhookRefused as refusal:
        return HttpResponse(f"refused: {refusal}", status=400, content_type="text/plain")
    return HttpResponse(outcome, content_type="text/plain")

"""Helpers of the funds tests: applications carried along the workflow by the real services, and what
the outbox holds."""

from __future__ import annotations

import json
from decimal import Decimal

from funds import services
from funds.models import Application, Call
from hub.accounts.models import Organisation, User
from hub.events.models import OutboxEvent


def published(type_name: str) -> list[dict]:
    """The data of every event of a type in the outbox, oldest first."""
    bodies = OutboxEvent.objects.filter(type=type_name).order_by("id").values_list("body", flat=True)
    return [json.loads(body)["data"] for body in bodies]


def funds_event_types() -> list[str]:
    return list(OutboxEvent.objects.filter(type__startswith="funds.").order_by("id").values_list("type", flat=True))


def draft(call: Call, organisation: Organisation, by: User, amount: str = "500000", **kwargs) -> Application:
    return services.application_create(
        call=call, organisation=organisation, by=by, title="工业视觉质检大模型", requested_amount=amount, **kwargs
    )


def in_review(application: Application, *, applicant: User, manager: User) -> Application:
    """Submitted by `applicant`, screened and sent to review by `manager`."""
    services.application_submit(application=application, by=applicant)
    services.application_screen(application=application, by=manager)
    return services.application_start_review(application=application, by=manager)


def full_scores(call: Call, value: int = 5) -> dict[int, int]:
    return {criterion.pk: min(value, criterion.max_score) for criterion in call.criteria.all()}


def decision_pending(application: Application, *, applicant: User, manager: User, reviewer: User) -> Application:
    """In review with one reviewer, reviewed, review closed."""
    in_review(application, applicant=applicant, manager=manager)
    assignment = services.review_assign(application=application, reviewer=reviewer, by=manager)
    services.review_submit(assignment=assignment, by=reviewer, scores=full_scores(application.call))
    return services.application_close_review(application=application, by=manager)


def approved(
    application: Application, *, applicant: User, manager: User, reviewer: User, amount: str = "400000"
) -> Application:
    decision_pending(application, applicant=applicant, manager=manager, reviewer=reviewer)
    return services.application_approve(application=application, by=manager, amount=amount, reason="评审通过")


def two_tranches(application: Application) -> list[dict]:
    half = (application.approved_amount / 2).quantize(Decimal("0.01"))
    return [
        {"milestone": "完成原型", "amount": half, "due": "2027-03-31"},
        {"milestone": "完成试点部署", "amount": application.approved_amount - half, "due": "2027-09-30"},
    ]

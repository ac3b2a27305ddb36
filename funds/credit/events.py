"""Events of compute credit (topic `funds`, keyed by the organisation) and the metering of scoring jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from funds.events import default_language_path
from hub.events.registry import Event, event_type, handles

if TYPE_CHECKING:
    from funds.credit.models import CreditPurchase

CONSUMER = "funds"


def _purchase(purchase: CreditPurchase) -> dict[str, Any]:
    """What both payment events say of a purchase; only its buyer hears of it."""
    return {
        "purchase_id": str(purchase.pk),
        "organisation_id": purchase.account.organisation_id,
        "amount": f"{purchase.amount:.2f}",
        "url": default_language_path("funds_credit:purchase", purchase.pk),
        "recipients": [purchase.created_by_id],
    }


@event_type("funds.credit.purchased.v1")
@dataclass(frozen=True)
class CreditPurchased(Event):
    """A card payment for compute credit succeeded and the credit was added; the buyer hears of it."""

    purchase_id: str
    organisation_id: int
    amount: str
    balance: str
    url: str
    recipients: list[int]

    @classmethod
    def of(cls, purchase: CreditPurchase) -> Self:
        return cls(**_purchase(purchase), balance=f"{purchase.account.balance:.2f}")


@event_type("funds.credit.purchase_failed.v1")
@dataclass(frozen=True)
class CreditPurchaseFailed(Event):
    """A card payment for compute credit was declined or its authentication failed; the buyer hears why."""

    purchase_id: str
    organisation_id: int
    amount: str
    reason: str
    url: str
    recipients: list[int]

    @classmethod
    def of(cls, purchase: CreditPurchase) -> Self:
        return cls(**_purchase(purchase), reason=purchase.failure_message)


@event_type("funds.credit.statement_ready.v1")
@dataclass(frozen=True)
class StatementReady(Event):
    """A month ended: an organisation's compute credit statement for it is ready; its members hear of it."""

    organisation_id: int
    month: str
    used: str
    subsidised: str
    closing_balance: str
    url: str
    recipients: list[int]


@handles("scoring.job.finished.v1", consumer=CONSUMER)
def on_job_finished(event: Any) -> None:
    """Meter a finished scoring job: its compute is charged to the organisation it ran for, and the active
    subsidy programme pays its share. Idempotent through the inbox and the ledger's one-charge-per-job rule."""
    from funds.credit.services import usage_charge  # the services publish this module's events

    if event.organisation_id is None:
        return  # an entrant without an organisation: nobody to charge
    usage_charge(
        job_id=event.job_id,
        submission_id=event.submission_id,
        organisation_id=event.organisation_id,
        device_kind=event.device["kind"],
        device_id=event.device["id"],
        cpu_seconds=event.cpu_seconds,
        wall_seconds=event.wall_seconds,
    )

"""The application workflow as one table: each action, the statuses it starts from, where it leads, who
may take it, and the event it publishes. funds.services performs the steps; nothing else moves a status.

    draft → submitted → screening ⇄ more_information
                        screening → in_review → decision_pending → approved | rejected
                        screening → rejected  (ineligible, screened out)
    any status before a decision → withdrawn  (by the applicant who started it)
    approved → agreement → disbursing → closed
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from funds.models import Application

S = Application.Status


class Actor(StrEnum):
    """The parts a user can play for one application (funds.selectors.actors_of says which they hold)."""

    APPLICANT = "applicant"  # the member of the applicant organisation who started it
    CO_APPLICANT = "co_applicant"
    MANAGER = "manager"  # a manager of the call's fund
    REVIEWER = "reviewer"  # assigned, not conflicted


APPLICANTS = frozenset({Actor.APPLICANT, Actor.CO_APPLICANT})
MANAGERS = frozenset({Actor.MANAGER})

# Before a decision: the applicant may still withdraw, and the answers are not yet final.
PRE_DECISION = frozenset({S.DRAFT, S.SUBMITTED, S.SCREENING, S.MORE_INFORMATION, S.IN_REVIEW, S.DECISION_PENDING})
# What the applicant may still edit: a draft, and answers to a request for more information.
EDITABLE = frozenset({S.DRAFT, S.MORE_INFORMATION})
# Approved amounts are committed against the budgets in these.
COMMITTED = frozenset({S.APPROVED, S.AGREEMENT, S.DISBURSING, S.CLOSED})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    actors: frozenset[Actor]
    fact: str  # the event: funds.application.<fact>.v1
    needs_reason: bool = False

    @property
    def label(self) -> str:
        """The action in words, for refusals ("You may not … this application")."""
        return str(LABELS[self.action])


LABELS = {
    "submit": _("submit"),
    "screen": _("screen"),
    "request_information": _("ask for more information on"),
    "answer": _("answer on"),
    "start_review": _("send to review"),
    "close_review": _("close the review of"),
    "approve": _("approve"),
    "reject": _("reject"),
    "withdraw": _("withdraw"),
    "sign_agreement": _("record the agreement of"),
    "start_disbursing": _("start paying"),
    "close": _("close"),
}


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({S.DRAFT}), S.SUBMITTED, APPLICANTS, "submitted"),
        Transition("screen", frozenset({S.SUBMITTED}), S.SCREENING, MANAGERS, "screened"),
        Transition(
            "request_information",
            frozenset({S.SCREENING}),
            S.MORE_INFORMATION,
            MANAGERS,
            "more_information_requested",
            needs_reason=True,
        ),
        Transition("answer", frozenset({S.MORE_INFORMATION}), S.SCREENING, APPLICANTS, "information_provided"),
        Transition("start_review", frozenset({S.SCREENING}), S.IN_REVIEW, MANAGERS, "review_started"),
        Transition("close_review", frozenset({S.IN_REVIEW}), S.DECISION_PENDING, MANAGERS, "review_closed"),
        Transition("approve", frozenset({S.DECISION_PENDING}), S.APPROVED, MANAGERS, "decided", needs_reason=True),
        Transition(
            "reject", frozenset({S.SCREENING, S.DECISION_PENDING}), S.REJECTED, MANAGERS, "decided", needs_reason=True
        ),
        Transition("withdraw", PRE_DECISION, S.WITHDRAWN, frozenset({Actor.APPLICANT}), "withdrawn"),
        Transition("sign_agreement", frozenset({S.APPROVED}), S.AGREEMENT, MANAGERS, "agreement_signed"),
        # Taken by the first payment (tranche_pay), never on its own.
        Transition("start_disbursing", frozenset({S.AGREEMENT}), S.DISBURSING, MANAGERS, "disbursing_started"),
        Transition("close", frozenset({S.DISBURSING}), S.CLOSED, MANAGERS, "closed"),
    )
}


def transition(action: str) -> Transition:
    """The row of the table for `action` (a KeyError for an unknown action is a programming error)."""
    return TRANSITIONS[action]


def actions_from(status: str) -> list[str]:
    """Every action the table allows from `status`, in table order."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources]

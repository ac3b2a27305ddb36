"""The catalogue of notifications: which event types tell people something, and what they say.

The notifier service subscribes to exactly these event types; the preferences page lists them.
Each renderer runs under the recipient's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.functional import Promise
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hub.i18n import path_for_reader


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    url: str = ""


@dataclass(frozen=True)
class Kind:
    event_type: str
    label: str | Promise
    render: Callable[[Any], Message]
    # Where what a recipient reads depends on their part (an applicant's receipt, a manager's new
    # application), this renders for one recipient, by id, instead of `render`.
    render_for: Callable[[Any, int], Message] | None = None

    def message(self, event: Any, recipient: int) -> Message:
        """What `recipient` reads of `event`, in the active language."""
        return self.render_for(event, recipient) if self.render_for else self.render(event)

    @property
    def name(self) -> str:
        """The kind users choose e-mails by: the event type without its version."""
        return self.event_type.rsplit(".", 1)[0]


def _welcome(event: Any) -> Message:
    return Message(
        title=gettext("Welcome to Wanzhi"),
        body=render_to_string("notifications/email/welcome.txt", {"username": event.username}),
        url="/",
    )


def _membership_granted(event: Any) -> Message:
    from hub.accounts.models import Role

    role = Role(event.role).label
    return Message(
        title=gettext("You are now %(role)s at %(organisation)s")
        % {"role": role, "organisation": event.organisation_name},
        body=render_to_string(
            "notifications/email/membership_granted.txt",
            {"role": role, "organisation": event.organisation_name},
        ),
        url="/notifications/",
    )


def _proposal(fact: str, title: str | Promise) -> Callable[[Any], Message]:
    """A scenarios.proposal.<fact> event: the title names the scenario; the body (from the scenarios
    app's templates) links to the proposal's page."""

    def render(event: Any) -> Message:
        names = {"scenario": event.scenario_title, "organisation": event.organisation_name}
        url = path_for_reader(event.url)  # rendered under the recipient's language
        return Message(
            # A scenario title may take up to 200 characters itself: the stored title (and subject) may not.
            title=Truncator(str(title) % names).chars(200),
            body=render_to_string(
                f"scenarios/email/proposal_{fact}.txt", {**names, "url": f"{settings.SITE_URL}{url}"}
            ),
            url=url,
        )

    return render


def _match_suggested(event: Any) -> Message:
    """scenarios.match.suggested.v1: the members of a newly suggested startup hear of the scenario."""
    url = path_for_reader(event.url)  # the scenario's page, under the recipient's language
    names = {"scenario": event.scenario_title}
    return Message(
        title=Truncator(gettext("A scenario that fits your capabilities: “%(scenario)s”") % names).chars(200),
        body=render_to_string("scenarios/email/match_suggested.txt", {**names, "url": f"{settings.SITE_URL}{url}"}),
        url=url,
    )


def _submission(fact: str, title: str | Promise) -> Callable[[Any], Message]:
    """A competitions.submission.<fact> event: its team's members hear how their submission ended."""

    def render(event: Any) -> Message:
        url = path_for_reader(event.url)
        names = {"competition": event.competition_title, "team": event.team_name}
        extra = (
            {"metric": event.metric, "score": "—" if event.score is None else f"{event.score:.4f}"}
            if fact == "scored"
            else {"reason": event.reason, "platform_failure": event.platform_failure}
        )
        return Message(
            title=Truncator(str(title) % names).chars(200),
            body=render_to_string(
                f"competitions/email/submission_{fact}.txt",
                {**names, **extra, "url": f"{settings.SITE_URL}{url}"},
            ),
            url=url,
        )

    return render


def _fast_track(event: Any) -> Message:
    """funds.fast_track.invited.v1: the members of an organisation whose team ranked high hear of the call."""
    url = path_for_reader(event.url)
    names = {"call": event.call_title, "team": event.team_name, "rank": event.rank}
    return Message(
        title=Truncator(gettext("Fast track: you are invited to apply to “%(call)s”") % names).chars(200),
        body=render_to_string("funds/email/fast_track_invited.txt", {**names, "url": f"{settings.SITE_URL}{url}"}),
        url=url,
    )


def _funds(event: Any, template: str, title: str | Promise, path: str, **extra: Any) -> Message:
    """A funds message: `title` and the body (funds/email/<template>.txt) take the event's fields (titles,
    question, reason, amounts...) and `extra`; `path`, a default-language page, opens under the reader's
    language. Events of blind calls carry nobody's identity, so none can show here."""
    url = path_for_reader(path)
    names = {**event.to_data(), **extra}
    return Message(
        # The application's and the call's titles take up to 200 characters each: the stored title may not.
        title=Truncator(str(title) % names).chars(200),
        body=render_to_string(f"funds/email/{template}.txt", {**names, "url": f"{settings.SITE_URL}{url}"}),
        url=url,
    )


def _funds_step(template: str, title: str | Promise, *, to_managers: bool = False) -> Callable[[Any], Message]:
    """A funds.application.<fact> event: the applicants hear of it on their page of the application, or
    (`to_managers`) the fund's managers on theirs."""

    def render(event: Any) -> Message:
        return _funds(event, template, title, event.manage_url if to_managers else event.url)

    return render


def _funds_decided(event: Any) -> Message:
    """funds.application.decided.v1: the applicants hear of the decision, with the manager's reason."""
    if event.decision == "approved":
        title = gettext("Your application “%(title)s” is approved")
    else:
        title = gettext("Your application “%(title)s” was not approved")
    return _funds(event, "application_decided", title, event.url)


def _review_assigned(event: Any) -> Message:
    """funds.review.assigned.v1: the reviewer is asked to review (titles only: a blind call's reviewer may
    not learn who applied, and the event does not say)."""
    return _funds(event, "review_assigned", gettext("Please review “%(title)s”"), event.url)


def _review_submitted(event: Any) -> Message:
    """funds.review.submitted.v1: the fund's managers hear of each review, and when all are in."""
    all_in = event.reviews_in >= event.reviews_assigned
    if all_in:
        title = gettext("All reviews of “%(title)s” are in")
    else:
        title = gettext("A review of “%(title)s” is in (%(reviews_in)s of %(reviews_assigned)s)")
    return _funds(event, "review_submitted", title, event.url, all_in=all_in)


def _tranche_paid(event: Any) -> Message:
    """funds.tranche.paid.v1: the applicants hear that a tranche of their grant was paid."""
    return _funds(event, "tranche_paid", gettext("Tranche %(position)s of “%(title)s” is paid"), event.url)


def _milestone_reported(event: Any) -> Message:
    """funds.milestone.reported.v1: the fund's managers are asked to review a milestone report."""
    title = gettext("Milestone report on “%(title)s” to review (tranche %(position)s)")
    return _funds(event, "milestone_reported", title, event.url)


def _milestone_reviewed(event: Any) -> Message:
    """funds.milestone.reviewed.v1: the applicants hear whether their report was accepted, or what it lacks."""
    if event.accepted:
        title = gettext("Your milestone report on “%(title)s” is accepted (tranche %(position)s)")
    else:
        title = gettext("Your milestone report on “%(title)s” was returned (tranche %(position)s)")
    return _funds(event, "milestone_reviewed", title, event.url)


def _credit_purchased(event: Any) -> Message:
    """funds.credit.purchased.v1: the buyer hears that the credit was added."""
    return _funds(event, "credit_purchased", gettext("¥%(amount)s of compute credit added"), event.url)


def _credit_purchase_failed(event: Any) -> Message:
    """funds.credit.purchase_failed.v1: the buyer hears why the card payment failed."""
    return _funds(
        event, "credit_purchase_failed", gettext("Your payment of ¥%(amount)s for compute credit failed"), event.url
    )


def _credit_statement(event: Any) -> Message:
    """funds.credit.statement_ready.v1: an organisation's members hear that last month's statement is ready."""
    return _funds(event, "credit_statement_ready", gettext("Your compute credit statement for %(month)s"), event.url)


_funds_receipt = _funds_step("application_submitted", _("Your application “%(title)s” is submitted"))
_funds_new_application = _funds_step(
    "application_submitted_managers", _("New application to “%(call_title)s”: “%(title)s”"), to_managers=True
)


def _funds_submitted_for(event: Any, recipient: int) -> Message:
    """funds.application.submitted.v1: the fund's managers (`event.managers`) hear of a new application,
    the applicants get their receipt."""
    return (_funds_new_application if recipient in event.managers else _funds_receipt)(event)


KINDS: dict[str, Kind] = {
    kind.event_type: kind
    for kind in [
        Kind("accounts.user.registered.v1", _("Welcome message"), _welcome),
        Kind("accounts.membership.granted.v1", _("A role granted to you"), _membership_granted),
        # Scenario calls: the publishers hear of proposals sent and withdrawn, the startup of decisions.
        Kind(
            "scenarios.proposal.submitted.v1",
            _("A proposal sent to your scenario"),
            _proposal("submitted", _("New proposal to “%(scenario)s” from %(organisation)s")),
        ),
        Kind(
            "scenarios.proposal.withdrawn.v1",
            _("A proposal to your scenario withdrawn"),
            _proposal("withdrawn", _("%(organisation)s withdrew its proposal to “%(scenario)s”")),
        ),
        Kind(
            "scenarios.proposal.shortlisted.v1",
            _("Your proposal shortlisted"),
            _proposal("shortlisted", _("Your proposal to “%(scenario)s” is shortlisted")),
        ),
        Kind(
            "scenarios.proposal.declined.v1",
            _("Your proposal declined"),
            _proposal("declined", _("Your proposal to “%(scenario)s” was declined")),
        ),
        Kind(
            "scenarios.proposal.awarded.v1",
            _("Your proposal awarded"),
            _proposal("awarded", _("Your proposal to “%(scenario)s” won")),
        ),
        # Competitions: a team hears when its submission is scored or fails (e-mail if they want it).
        Kind(
            "competitions.submission.scored.v1",
            _("Your submission scored"),
            _submission("scored", _("Your submission to “%(competition)s” is scored")),
        ),
        Kind(
            "competitions.submission.failed.v1",
            _("Your submission failed"),
            _submission("failed", _("Your submission to “%(competition)s” failed")),
        ),
        # Funds: organisations whose team ranked high are invited to the linked call.
        Kind("funds.fast_track.invited.v1", _("A fast-track invitation to a fund call"), _fast_track),
        # Funds applications: the applicants hear of each step that concerns them, the reviewer of an
        # assignment, the fund's managers of what waits for them (funds.services chooses the recipients).
        Kind(
            "funds.application.submitted.v1",
            _("An application submitted: your receipt, or a new one to your fund"),
            _funds_receipt,
            render_for=_funds_submitted_for,
        ),
        Kind(
            "funds.application.more_information_requested.v1",
            _("More information asked for your application"),
            _funds_step("more_information_requested", _("More information is asked for “%(title)s”")),
        ),
        Kind(
            "funds.application.information_provided.v1",
            _("An applicant answered your request for information"),
            _funds_step("information_provided", _("The applicants answered on “%(title)s”"), to_managers=True),
        ),
        Kind("funds.application.decided.v1", _("A decision on your application"), _funds_decided),
        Kind(
            "funds.application.withdrawn.v1",
            _("An application to your fund withdrawn"),
            _funds_step("application_withdrawn", _("“%(title)s” was withdrawn"), to_managers=True),
        ),
        Kind(
            "funds.application.agreement_signed.v1",
            _("Your grant agreement signed"),
            _funds_step("agreement_signed", _("The grant agreement for “%(title)s” is signed")),
        ),
        Kind(
            "funds.application.closed.v1",
            _("Your grant closed"),
            _funds_step("application_closed", _("The grant for “%(title)s” is closed")),
        ),
        Kind("funds.tranche.paid.v1", _("A tranche of your grant paid"), _tranche_paid),
        Kind("funds.review.assigned.v1", _("An application to review"), _review_assigned),
        Kind("funds.review.submitted.v1", _("A review of an application you manage"), _review_submitted),
        Kind("funds.milestone.reported.v1", _("A milestone report to review"), _milestone_reported),
        Kind("funds.milestone.reviewed.v1", _("Your milestone report reviewed"), _milestone_reviewed),
        Kind("funds.credit.purchased.v1", _("Compute credit you bought"), _credit_purchased),
        Kind("funds.credit.purchase_failed.v1", _("A failed payment for compute credit"), _credit_purchase_failed),
        Kind("funds.credit.statement_ready.v1", _("A monthly compute credit statement"), _credit_statement),
        # Matching: startups hear of the open scenarios that fit their capabilities.
        Kind("scenarios.match.suggested.v1", _("A scenario that fits your capabilities"), _match_suggested),
    ]
}


def kind_names() -> list[str]:
    return [kind.name for kind in KINDS.values()]

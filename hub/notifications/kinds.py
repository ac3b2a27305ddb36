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
        # Matching: startups hear of the open scenarios that fit their capabilities.
        Kind("scenarios.match.suggested.v1", _("A scenario that fits your capabilities"), _match_suggested),
    ]
}


def kind_names() -> list[str]:
    return [kind.name for kind in KINDS.values()]

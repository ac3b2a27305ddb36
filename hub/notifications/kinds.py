"""The catalogue of notifications: which event types tell people something, and what they say.

The notifier service subscribes to exactly these event types; the preferences page lists them.
Each renderer runs under the recipient's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


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


KINDS: dict[str, Kind] = {
    kind.event_type: kind
    for kind in [
        Kind("accounts.user.registered.v1", _("Welcome message"), _welcome),
        Kind("accounts.membership.granted.v1", _("A role granted to you"), _membership_granted),
    ]
}


def kind_names() -> list[str]:
    return [kind.name for kind in KINDS.values()]

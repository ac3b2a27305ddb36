"""`manage.py run_service` with several names: one process, a loop per service, stopped together."""

import logging
import signal
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from hub.accounts.services import membership_grant
from hub.events.management.commands.run_service import run_together
from hub.events.models import InboxEntry
from hub.notifications.models import Notification
from tests.factories import OrganisationFactory, UserFactory
from tests.support import consumer, wait_for


def test_one_process_runs_the_relay_and_two_consumers_and_stops_them_all_on_sigterm(start_process, kafka):
    organisation = OrganisationFactory()
    users = UserFactory.create_batch(3)
    with transaction.atomic():
        for user in users:
            membership_grant(user=user, organisation=organisation, role="entrant")

    services = start_process("run_service", "relay", "notifier", "competitions")
    # The relay's sends reach the notifier's own group in the same process; each event applied once.
    wait_for(lambda: Notification.objects.count() == 3, timeout=60)
    assert {n.user_id for n in Notification.objects.all()} == {u.pk for u in users}
    assert InboxEntry.objects.filter(consumer="notifier").count() == 3
    log = services.log.read_text()
    assert '"consumer": "competitions"' in log  # the second consumer group runs beside the notifier's

    services.send_signal(signal.SIGTERM)
    assert services.wait(40) == 0
    log = services.log.read_text()
    assert "relay stopped" in log
    assert log.count("consumer stopped") == 2


def test_a_crashing_loop_stops_the_others_and_is_named(kafka, transactional_db, caplog):
    caplog.set_level(logging.INFO)
    notifier = consumer("notifier")

    def broken(stop: threading.Event) -> None:  # a service with a bug, failing once the notifier runs
        wait_for(lambda: "consumer started" in caplog.text)
        raise RuntimeError("broken on purpose")

    failed = run_together({"notifier": notifier.run, "broken": broken}, threading.Event())

    assert failed == ["broken"]  # the notifier stopped cleanly when told
    (crash,) = [r for r in caplog.records if r.getMessage().startswith("service crashed")]
    assert crash.service == "broken" and "broken on purpose" in str(crash.exc_info[1])
    assert any(r.getMessage() == "consumer stopped" for r in caplog.records)


def test_a_loop_that_returns_by_itself_stops_the_others(kafka, transactional_db):
    notifier = consumer("notifier")
    failed = run_together({"notifier": notifier.run, "done": lambda stop: None}, threading.Event())
    assert failed == ["done"]


def test_an_unknown_name_is_refused_before_anything_starts(db):
    with pytest.raises(CommandError, match="no service 'nosuch'"):
        call_command("run_service", "notifier", "nosuch")

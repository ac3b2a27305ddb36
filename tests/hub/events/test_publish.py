"""publish(): the outbox row is part of the caller's transaction, and bad events never get in."""

import json

import pytest
from django.db import transaction

from hub.accounts.events import MembershipGranted, OrganisationCreated
from hub.events.envelope import Envelope
from hub.events.models import OutboxEvent
from hub.events.publish import PublishOutsideTransaction, publish, shard_of
from hub.events.registry import EventSchemaError
from hub.observability import correlation


def organisation_created(n: int = 1) -> OrganisationCreated:
    return OrganisationCreated(organisation_id=n, name=f"机构{n}", kind="startup", region="合肥市")


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_is_refused():
    with pytest.raises(PublishOutsideTransaction, match=r"transaction\.atomic"):
        publish(organisation_created(), key=1)
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_transaction_rolls_back_never_reaches_the_outbox():
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        publish(organisation_created(1), key=1)
        raise Abort
    with transaction.atomic():
        publish(organisation_created(2), key=2)
    assert list(OutboxEvent.objects.values_list("key", flat=True)) == ["2"]


@pytest.mark.django_db
def test_an_event_that_breaks_its_schema_is_refused_naming_the_field():
    bad = MembershipGranted(
        membership_id=1, user_id=1, organisation_id=1, organisation_name="x", role="emperor", recipients=[1]
    )
    with pytest.raises(
        EventSchemaError, match=r"accounts\.membership\.granted\.v1: field role: 'emperor' is not one of"
    ):
        publish(bad, key=1)
    zero = OrganisationCreated(organisation_id=0, name="x", kind="startup", region="")
    with pytest.raises(EventSchemaError, match="field organisation_id: 0 is less than the minimum of 1"):
        publish(zero, key=1)
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db
def test_the_outbox_row_holds_a_cloudevent_in_structured_mode():
    with correlation("req-42"):
        envelope = publish(organisation_created(7), key=7, subject="organisation/7")
    row = OutboxEvent.objects.get()
    body = json.loads(row.body)
    assert body["specversion"] == "1.0"
    assert body["type"] == "accounts.organisation.created.v1"
    assert body["source"] == "urn:wanzhi/accounts"
    assert body["subject"] == "organisation/7"
    assert body["datacontenttype"] == "application/json"
    assert body["data"] == {"organisation_id": 7, "name": "机构7", "kind": "startup", "region": "合肥市"}
    assert body["correlationid"] == "req-42"
    assert row.topic.endswith("accounts") and row.key == "7" and row.shard == shard_of("7")
    assert Envelope.from_json(row.body) == envelope

"""The funds event contract: every type has its schema and goes to the funds topic; amounts travel as
decimal strings; data that breaks a schema is refused before it reaches the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

import funds
from funds.events import STEP_EVENTS
from funds.workflow import TRANSITIONS
from hub.events.registry import EventSchemaError, event_class, validate
from hub.events.topics import topic_for_event, topic_name

SCHEMAS = sorted(p.name.removesuffix(".json") for p in Path(funds.__file__).parent.glob("**/schemas/*.json"))


def test_every_schema_has_its_event_type_on_the_funds_topic():
    assert len(SCHEMAS) == 22  # funds/schemas and funds/credit/schemas
    for name in SCHEMAS:
        assert event_class(name).type_name == name
        assert topic_for_event(name) == topic_name("funds")


def test_every_workflow_step_has_its_event():
    assert {step.fact for step in TRANSITIONS.values()} == set(STEP_EVENTS)


STEP = {
    "application_id": 1,
    "call_id": 2,
    "fund_id": 3,
    "organisation_id": 4,
    "from_status": "decision_pending",
    "to_status": "approved",
    "at": "2026-12-01T10:00:00+08:00",
    "decision": "approved",
    "approved_amount": "400000.00",
}


def test_a_decision_validates():
    validate("funds.application.decided.v1", STEP)


@pytest.mark.parametrize(
    "change",
    [
        {"approved_amount": 400000.0},  # a float: amounts are decimal strings
        {"approved_amount": "-1.00"},
        {"to_status": "paid"},  # not a status
        {"decision": "maybe"},
        {"applicant_name": "张三"},  # no personal data beyond the schema
    ],
)
def test_forged_or_leaky_data_is_refused(change):
    with pytest.raises(EventSchemaError):
        validate("funds.application.decided.v1", {**STEP, **change})

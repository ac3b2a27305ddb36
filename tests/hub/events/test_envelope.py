import pytest

from hub.events.envelope import Envelope, EnvelopeError


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": "1", "type": "a.b.c.v1", "specversion": "1.0"}', "lacks source"),
        (b'{"id": "1", "source": "s", "type": "a.b.c.v1", "specversion": "0.3"}', "unsupported specversion"),
    ],
)
def test_a_malformed_message_is_refused_with_the_reason(raw, reason):
    with pytest.raises(EnvelopeError, match=reason):
        Envelope.from_json(raw)


def test_an_envelope_survives_the_wire_unchanged():
    envelope = Envelope(
        id="e1",
        source="urn:wanzhi/accounts",
        type="accounts.user.registered.v1",
        time="2026-11-27T10:00:00+08:00",
        subject="3",
        data={"user_id": 3, "username": "李雷", "recipients": [3]},
        correlationid="c1",
    )
    assert Envelope.from_json(envelope.to_json().encode()) == envelope
    assert "李雷" in envelope.to_json()  # UTF-8 on the wire, not \u escapes

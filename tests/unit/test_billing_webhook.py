"""The webhook's flow with a hand-written event log: verification first, one read for a redelivery,
claim then apply, 409 while another delivery holds a fresh claim, takeover of an abandoned one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.billing import webhook
from shared.config import Settings
from tests.billing_helpers import active_plan_events, body, event, sign

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SECRET = "whsec_unit"
S = Settings(stripe_webhook_secret=SECRET)


class FakeLog:
    def __init__(self, docs=None) -> None:
        self.docs: dict[str, dict] = docs or {}
        self.calls: list[str] = []

    def event_status(self, event_id):
        self.calls.append("event_status")
        d = self.docs.get(event_id)
        return (d["status"], d.get("claimed_at")) if d else None

    def claim_event(self, event_id, record, now):
        self.calls.append("claim_event")
        if event_id in self.docs:
            return False
        self.docs[event_id] = {**record, "status": "processing", "claimed_at": now}
        return True

    def record_event(self, event_id, record):
        self.calls.append("record_event")
        if event_id in self.docs:
            return False
        self.docs[event_id] = {**record, "status": "ignored"}
        return True

    def apply(self, fact, record, now):
        self.calls.append("apply")
        self.docs[fact.event_id] = {**record, "status": "applied"}
        return "applied"


def handle(evt, log, *, secret=SECRET, settings=S, now=NOW):
    raw = body(evt)
    return webhook.handle(raw, sign(raw, secret), events=log, settings=settings, now=now)


def test_new_then_duplicate():
    log = FakeLog()
    evt = active_plan_events("c1")[0]
    assert handle(evt, log).outcome == "applied"
    assert log.calls == ["event_status", "claim_event", "apply"]
    log.calls.clear()
    assert handle(evt, log).outcome == "duplicate" and log.calls == ["event_status"]


def test_a_fresh_claim_of_another_delivery_is_409_an_abandoned_one_is_taken_over():
    evt = active_plan_events("c1")[0]
    log = FakeLog({evt["id"]: {"status": "processing", "claimed_at": NOW - timedelta(seconds=10)}})
    with pytest.raises(webhook.InProgress):
        handle(evt, log)
    log.docs[evt["id"]]["claimed_at"] = NOW - timedelta(seconds=S.stripe_event_lease_s + 1)
    assert handle(evt, log).outcome == "applied" and "claim_event" not in log.calls


def test_losing_the_claim_race_is_409():
    evt = active_plan_events("c1")[0]

    class Racing(FakeLog):
        def claim_event(self, event_id, record, now):
            return False

    with pytest.raises(webhook.InProgress):
        handle(evt, Racing())


def test_unhandled_types_are_recorded_and_ignored():
    log = FakeLog()
    evt = event("evt_other1", "charge.refunded", 1795000000, {"id": "ch_1"})
    assert handle(evt, log).outcome == "ignored" and log.docs["evt_other1"]["status"] == "ignored"


def test_no_secret_configured_refuses_everything():
    log = FakeLog()
    with pytest.raises(webhook.Rejected, match="No webhook secret"):
        handle(active_plan_events("c1")[0], log, settings=Settings())
    assert log.calls == []


def test_oversized_and_non_utf8_bodies_are_refused_before_anything():
    log = FakeLog()
    for raw in (b"{" + b" " * webhook.MAX_BODY_BYTES + b"}", b"\xff\xfe{}"):
        with pytest.raises(webhook.Rejected):
            webhook.handle(raw, sign(raw, SECRET), events=log, settings=S, now=NOW)
    assert log.calls == []

"""`stripe_webhook`: verify the signature on the raw body, then dedupe, then apply — nothing else inline.

1. The signature (Stripe-Signature `t=...,v1=...`, HMAC-SHA256 of "{t}.{body}" with the endpoint's
   secret) is verified by the stripe library on the exact bytes received, with a 300 s tolerance,
   before the body is even parsed: a missing, wrong or stale signature is refused and nothing is read
   or written.
2. One document read answers a redelivery (`stripe_events/{event.id}` exists): no transaction.
3. A new event is recorded first, create-if-absent (`processing`; of concurrent deliveries exactly one
   wins, the others get 409 and Stripe delivers again later); then, for a handled type, its fact is
   applied to its subscription and the customer's entitlements in one transaction that also marks the
   event `applied`. A claim whose delivery died is taken over after `stripe_event_lease_s`. Other types
   are recorded as `ignored`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.billing.events import HANDLED, Fact, MalformedEvent, parse_event, to_fact
from shared.config import Settings
from shared.log import get_logger

log = get_logger("billing.webhook")
MAX_BODY_BYTES = 512 * 1024  # Stripe's events are far smaller; anything bigger is not one of them


class EventLog(Protocol):
    def event_status(self, event_id: str) -> tuple[str, datetime | None] | None: ...
    def claim_event(self, event_id: str, record: dict[str, Any], now: datetime) -> bool: ...
    def record_event(self, event_id: str, record: dict[str, Any]) -> bool: ...
    def apply(self, fact: Fact, record: dict[str, Any], now: datetime) -> str: ...


class Rejected(ValueError):
    """Not a delivery we accept (signature, size, shape): 400, nothing written."""


class InProgress(RuntimeError):
    """Another delivery of this event is being applied right now: 409, Stripe delivers it again later."""


@dataclass
class Outcome:
    event_id: str
    event_type: str
    outcome: str  # applied | stale | duplicate | ignored | unlinked
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"received": True, "event_id": self.event_id, "type": self.event_type, "outcome": self.outcome}


def verify(raw: bytes, signature: str | None, settings: Settings) -> None:
    """The stripe library's own verification of the signature header against the raw body."""
    import stripe  # only the functions that verify or call Stripe pay for this import

    if len(raw) > MAX_BODY_BYTES:
        raise Rejected(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        raw.decode("utf-8")  # the signature is over the text; bytes that are not UTF-8 are no event
    except UnicodeDecodeError:
        raise Rejected("body is not UTF-8") from None
    try:
        stripe.WebhookSignature.verify_header(
            raw,
            signature,
            settings.stripe_webhook_secret.get_secret_value(),
            settings.stripe_webhook_tolerance_s,
        )
    except stripe.SignatureVerificationError as e:
        if not settings.stripe_webhook_secret.get_secret_value():
            log.error("stripe_webhook_secret is not set: every delivery is refused")
        raise Rejected(f"Stripe-Signature: {str(e).split(' It should')[0]}") from None
    except (TypeError, ValueError):  # e.g. a signature with characters no HMAC hex digest has
        raise Rejected("Stripe-Signature: not a Stripe signature header") from None


def _abandoned(seen: tuple[str, datetime | None], now: datetime, settings: Settings) -> bool:
    """A claim whose delivery died before applying it (older than the lease) is taken over."""
    status, claimed_at = seen
    return (
        status == "processing"
        and claimed_at is not None
        and (now - claimed_at).total_seconds() > settings.stripe_event_lease_s
    )


def handle(
    raw: bytes, signature: str | None, *, events: EventLog, settings: Settings, now: datetime
) -> Outcome:
    """Verify, dedupe, apply. Raises Rejected for anything that must be a 400."""
    verify(raw, signature, settings)
    try:
        event = parse_event(json.loads(raw))
    except (json.JSONDecodeError, RecursionError):
        raise Rejected("body is not JSON") from None
    except MalformedEvent as e:
        raise Rejected(f"not a Stripe event: {e}") from None
    seen = events.event_status(event.id)
    if seen is not None and not _abandoned(seen, now, settings):
        if seen[0] == "processing":
            raise InProgress(f"event {event.id} is being applied by another delivery")
        return Outcome(event.id, event.type, "duplicate")
    record = {
        "event_id": event.id,
        "type": event.type,
        "created": event.created,
        "api_version": event.api_version,
        "received_at": now,
    }
    fact = None
    if event.type in HANDLED:
        try:
            fact = to_fact(event, settings)
        except MalformedEvent as e:
            raise Rejected(f"{event.type} {event.id}: {e}") from None
    if fact is None:
        reason = "not a handled type" if event.type not in HANDLED else "concerns no subscription"
        recorded = events.record_event(event.id, {**record, "outcome": "ignored", "reason": reason})
        log.info("stripe event ignored", extra={"event_id": event.id, "type": event.type, "reason": reason})
        return Outcome(event.id, event.type, "ignored" if recorded else "duplicate")
    record["subscription_id"] = fact.subscription_id
    if seen is None and not events.claim_event(event.id, record, now):
        raise InProgress(f"event {event.id} is being applied by another delivery")
    outcome = events.apply(fact, record, now)
    log.info(
        "stripe event %s",
        outcome,
        extra={"event_id": event.id, "type": event.type, "subscription_id": fact.subscription_id},
    )
    return Outcome(event.id, event.type, outcome)

"""Stripe events → facts about one subscription, and the per-subscription state those facts build (pure).

Every handled event concerns exactly one subscription. Its document keeps one *facet* per source —
`checkout` (checkout.session.completed), `subscription` (customer.subscription.*), `payment` (invoice.*)
— and each facet keeps only the newest fact by (`created`, status rank, event id). So the state does not
depend on the order Stripe delivers in: a stale event changes nothing, and any shuffle of the same events
ends in the same document. Payloads of older and newer API versions are both read (the invoice's
subscription id, a subscription's price and period end moved between versions).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.billing.plans import PERIODS, by_price_id
from shared.config import Settings

HANDLED: frozenset[str] = frozenset(
    {
        "checkout.session.completed",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
# Within one second Stripe's events do not say which came first; a later stage of the lifecycle wins.
STATUS_RANK: dict[str, int] = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "past_due": 3,
    "unpaid": 4,
    "paused": 4,
    "incomplete_expired": 5,
    "canceled": 6,
}
USABLE = frozenset({"active", "trialing", "past_due"})
# Our customer ids are document ids: the same shape video_request accepts, nothing else.
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
STRIPE_ID = re.compile(r"^[A-Za-z0-9_]{3,255}$")

FactKind = Literal["checkout", "subscription", "payment"]


class MalformedEvent(ValueError):
    """A correctly signed event we cannot read: refused (400), nothing written."""


@dataclass(frozen=True)
class Fact:
    """What one event says about one subscription."""

    event_id: str
    event_type: str
    created: int
    kind: FactKind
    subscription_id: str
    stripe_customer_id: str | None
    customer_id: str | None  # ours, when the payload carries it (metadata, client_reference_id)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    created: int
    api_version: str | None
    obj: dict[str, Any]


def parse_event(payload: Any) -> Event:
    """The envelope every Stripe event has; anything else is malformed."""
    if not isinstance(payload, dict):
        raise MalformedEvent("the event is not a JSON object")
    eid, etype, created = payload.get("id"), payload.get("type"), payload.get("created")
    data = payload.get("data")
    if not (isinstance(eid, str) and eid.startswith("evt_") and STRIPE_ID.match(eid)):
        raise MalformedEvent("id: not a Stripe event id")
    if not (isinstance(etype, str) and 0 < len(etype) <= 100):
        raise MalformedEvent("type: missing")
    if not (isinstance(created, int) and not isinstance(created, bool) and 0 < created < 2**40):
        raise MalformedEvent("created: not a Unix timestamp")
    if not (isinstance(data, dict) and isinstance(data.get("object"), dict)):
        raise MalformedEvent("data.object: missing")
    version = payload.get("api_version")
    return Event(eid, etype, created, version if isinstance(version, str) else None, data["object"])


# --- reading payloads of any API version ------------------------------------------------------------
def _id(value: Any) -> str | None:
    """An id given as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and STRIPE_ID.match(value) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _customer_id(*candidates: Any) -> str | None:
    for c in candidates:
        if isinstance(c, str) and CUSTOMER_ID.match(c):
            return c
    return None


def _items(sub: dict[str, Any]) -> list[dict[str, Any]]:
    data = _dict(sub.get("items")).get("data")
    return [i for i in data if isinstance(i, dict)] if isinstance(data, list) else []


def subscription_price_id(sub: dict[str, Any]) -> str | None:
    """items.data[0].price (2018+), items.data[0].plan or the top-level plan (2017 and localstripe)."""
    for item in _items(sub):
        found = _id(item.get("price")) or _id(item.get("plan"))
        if found:
            return found
    return _id(sub.get("plan"))


def subscription_period_end(sub: dict[str, Any]) -> int | None:
    """Top-level current_period_end until 2025-03-31; on each item since (the latest of them)."""
    top = _int(sub.get("current_period_end"))
    if top is not None:
        return top
    ends = [e for e in (_int(i.get("current_period_end")) for i in _items(sub)) if e is not None]
    return max(ends) if ends else None


def invoice_subscription_id(inv: dict[str, Any]) -> str | None:
    """`subscription` before 2025-03-31; `parent.subscription_details.subscription` since; else a line's."""
    found = _id(inv.get("subscription")) or _id(
        _dict(_dict(inv.get("parent")).get("subscription_details")).get("subscription")
    )
    if found:
        return found
    for line in _dict(inv.get("lines")).get("data") or []:
        if isinstance(line, dict):
            found = _id(line.get("subscription")) or _id(
                _dict(_dict(line.get("parent")).get("subscription_item_details")).get("subscription")
            )
            if found:
                return found
    return None


def invoice_customer_hint(inv: dict[str, Any]) -> str | None:
    """The subscription's metadata snapshot on the invoice, where the API version has one."""
    new = _dict(_dict(_dict(inv.get("parent")).get("subscription_details")).get("metadata"))
    mid = _dict(_dict(inv.get("subscription_details")).get("metadata"))
    lines = [
        _dict(line.get("metadata")).get("customer_id")
        for line in (_dict(inv.get("lines")).get("data") or [])
        if isinstance(line, dict)
    ]
    return _customer_id(new.get("customer_id"), mid.get("customer_id"), *lines)


# --- events → facts ---------------------------------------------------------------------------------
def to_fact(event: Event, settings: Settings) -> Fact | None:
    """The fact a handled event states; None for an event that concerns no subscription of ours."""
    obj = event.obj
    base = {"event_id": event.id, "event_type": event.type, "created": event.created}
    if event.type == "checkout.session.completed":
        if obj.get("mode") != "subscription":
            return None
        sub_id = _id(obj.get("subscription"))
        if sub_id is None:
            raise MalformedEvent("data.object.subscription: a subscription-mode session without one")
        meta = _dict(obj.get("metadata"))
        paid = _str(obj.get("payment_status")) in ("paid", "no_payment_required")
        plan = _str(meta.get("plan")) if _str(meta.get("plan")) in settings.plans else None
        return Fact(
            **base,
            kind="checkout",
            subscription_id=sub_id,
            stripe_customer_id=_id(obj.get("customer")),
            customer_id=_customer_id(obj.get("client_reference_id"), meta.get("customer_id")),
            values={
                "status": "active" if paid else "incomplete",
                "plan": plan,
                "period": _str(meta.get("period")) if _str(meta.get("period")) in PERIODS else None,
            },
        )
    if event.type.startswith("customer.subscription."):
        sub_id = _id(obj.get("id"))
        if sub_id is None or not sub_id.startswith("sub_"):
            raise MalformedEvent("data.object.id: not a subscription id")
        status = _str(obj.get("status"))
        if event.type == "customer.subscription.deleted":
            status = "canceled"
        if status not in STATUS_RANK:
            raise MalformedEvent(f"data.object.status: unknown subscription status {status!r}")
        meta = _dict(obj.get("metadata"))
        price = subscription_price_id(obj)
        known = by_price_id(settings, price)
        plan, period = known if known else (None, None)
        if plan is None and _str(meta.get("plan")) in settings.plans:
            plan = meta["plan"]  # a price we do not list, but the subscription says which plan it sells
        return Fact(
            **base,
            kind="subscription",
            subscription_id=sub_id,
            stripe_customer_id=_id(obj.get("customer")),
            customer_id=_customer_id(meta.get("customer_id")),
            values={
                "status": status,
                "price_id": price,
                "plan": plan,
                "period": period,
                "current_period_end": subscription_period_end(obj),
                "cancel_at_period_end": obj.get("cancel_at_period_end") is True,
                "cancel_at": _int(obj.get("cancel_at")),
                "canceled_at": _int(obj.get("canceled_at")) or _int(obj.get("ended_at")),
            },
        )
    if event.type in ("invoice.payment_succeeded", "invoice.payment_failed"):
        sub_id = invoice_subscription_id(obj)
        if sub_id is None:
            return None  # a one-time invoice: no subscription, no entitlement
        return Fact(
            **base,
            kind="payment",
            subscription_id=sub_id,
            stripe_customer_id=_id(obj.get("customer")),
            customer_id=invoice_customer_hint(obj),
            values={"paid": event.type == "invoice.payment_succeeded", "invoice_id": _id(obj.get("id"))},
        )
    return None


# --- facts → subscription state ------------------------------------------------------------------
def new_subscription_doc(subscription_id: str) -> dict[str, Any]:
    return {
        "subscription_id": subscription_id,
        "customer_id": None,
        "stripe_customer_id": None,
        "checkout": None,
        "subscription": None,
        "payment": {"last_success": 0, "failures": []},
    }


def _order(facet: dict[str, Any] | None) -> tuple[int, int, str]:
    if not facet:
        return (-1, -1, "")
    return (facet["created"], STATUS_RANK.get(facet.get("status", ""), -1), facet["event_id"])


def apply_fact(doc: dict[str, Any], fact: Fact) -> tuple[dict[str, Any], bool]:
    """The subscription document with `fact` applied, and whether anything changed (False: stale)."""
    new = copy.deepcopy(doc)
    if fact.customer_id and not new.get("customer_id"):
        new["customer_id"] = fact.customer_id
    if fact.stripe_customer_id and not new.get("stripe_customer_id"):
        new["stripe_customer_id"] = fact.stripe_customer_id
    if fact.kind in ("checkout", "subscription"):
        incoming = {**fact.values, "created": fact.created, "event_id": fact.event_id}
        if _order(incoming) > _order(new.get(fact.kind)):
            new[fact.kind] = incoming
    else:
        pay = new["payment"]
        if fact.values["paid"]:
            pay["last_success"] = max(pay["last_success"], fact.created)
        elif fact.created > pay["last_success"] and fact.created not in pay["failures"]:
            pay["failures"] = [*pay["failures"], fact.created]
        pay["failures"] = sorted(f for f in pay["failures"] if f > pay["last_success"])
    return new, new != doc


def subscription_view(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What a subscription amounts to now: status, plan and its limits, dates (epoch seconds)."""
    checkout, sub, pay = doc.get("checkout"), doc.get("subscription"), doc["payment"]
    source = sub if _order(sub) >= _order(checkout) else checkout
    status = (source or {}).get("status", "incomplete")
    plan = (sub or {}).get("plan") or (checkout or {}).get("plan")
    period = (sub or {}).get("period") or (checkout or {}).get("period")
    failures = pay.get("failures") or []
    if status in ("active", "trialing") and failures:
        status = "past_due"  # an invoice failed after the last state we heard of
    elif (
        status == "past_due"
        and not failures
        and pay.get("last_success", 0) >= (source or {}).get("created", 0)
    ):
        status = "active"  # paid since Stripe said past_due
    past_due_since = failures[0] if failures else None
    if status == "past_due" and past_due_since is None:
        past_due_since = (sub or {}).get("created")
    limits = settings.plans.get(plan) if plan else None
    return {
        "subscription_id": doc["subscription_id"],
        "status": status,
        "plan": plan if limits else None,
        "period": period,
        "videos_per_day": limits.videos_per_day if limits else 0,
        "channels": limits.channels if limits else 0,
        "current_period_end": (sub or {}).get("current_period_end"),
        "cancel_at_period_end": bool((sub or {}).get("cancel_at_period_end")),
        "canceled_at": (sub or {}).get("canceled_at"),
        "past_due_since": past_due_since if status == "past_due" else None,
        "as_of": max(_order(sub)[0], _order(checkout)[0], pay.get("last_success", 0), *failures, 0),
    }

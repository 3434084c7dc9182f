"""Stripe events for tests and benchmarks, in the shapes Stripe documents for older and newer API
versions, signed with the real scheme (HMAC-SHA256 of "{t}.{payload}", header `t=...,v1=...`).

These are hand-written in Stripe's documented shape, not recordings of live calls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import stripe

NEW_API = "2025-03-31.basil"  # the invoice's subscription under parent, period ends on the items
OLD_API = "2017-08-15"  # localstripe's version: top-level invoice.subscription and current_period_end


def sign(payload: bytes, secret: str, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(event_id: str, event_type: str, created: int, obj: dict[str, Any], *, api: str = NEW_API) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "api_version": api,
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


def subscription(
    sub_id: str,
    *,
    customer_id: str | None,
    cus: str,
    status: str,
    price: str,
    period_end: int,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    api: str = NEW_API,
) -> dict[str, Any]:
    meta = {"customer_id": customer_id} if customer_id else {}
    price_obj = {"id": price, "object": "price", "currency": "usd", "recurring": {"interval": "month"}}
    item: dict[str, Any] = {"id": f"si_{sub_id[4:]}", "object": "subscription_item", "quantity": 1}
    obj: dict[str, Any] = {
        "id": sub_id,
        "object": "subscription",
        "customer": cus,
        "status": status,
        "metadata": meta,
        "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": period_end if cancel_at_period_end else None,
        "canceled_at": canceled_at,
        "ended_at": canceled_at if status == "canceled" else None,
    }
    if api == OLD_API:  # plan objects, period on the subscription
        plan = {"id": price, "object": "plan", "amount": 9700, "interval": "month"}
        obj.update(plan=plan, current_period_end=period_end, current_period_start=period_end - 30 * 86400)
        item["plan"] = plan
    else:  # prices, period on each item (API 2025-03-31 and later)
        item.update(
            price=price_obj, current_period_end=period_end, current_period_start=period_end - 30 * 86400
        )
    obj["items"] = {"object": "list", "data": [item], "has_more": False}
    return obj


def invoice(
    inv_id: str,
    *,
    sub_id: str | None,
    cus: str,
    paid: bool,
    customer_id: str | None = None,
    api: str = NEW_API,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": inv_id,
        "object": "invoice",
        "customer": cus,
        "status": "paid" if paid else "open",
        "amount_paid": 9700 if paid else 0,
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
    }
    if api == OLD_API:
        obj["subscription"] = sub_id
        obj["lines"] = {"data": [{"id": f"il_{inv_id[3:]}", "subscription": sub_id, "metadata": {}}]}
    else:
        obj["parent"] = (
            {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": sub_id,
                    "metadata": {"customer_id": customer_id} if customer_id else {},
                },
            }
            if sub_id
            else None
        )
        obj["lines"] = {"data": [{"id": f"il_{inv_id[3:]}", "object": "line_item"}]}
    return obj


def checkout_session(
    cs_id: str, *, sub_id: str, cus: str, customer_id: str, plan: str, period: str = "monthly"
) -> dict[str, Any]:
    meta = {"customer_id": customer_id, "plan": plan, "period": period}
    return {
        "id": cs_id,
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "customer": cus,
        "client_reference_id": customer_id,
        "subscription": sub_id,
        "metadata": meta,
        "url": None,
    }


def body(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, indent=2).encode()


def active_plan_events(
    customer_id: str, *, plan_price: str = "price_starter_monthly", created: int | None = None, n: int = 1
) -> list[dict[str, Any]]:
    """The events that give a customer an active plan (subscription created, first invoice paid)."""
    t = created or int(time.time()) - 60
    sub_id = f"sub_{hashlib.sha256(customer_id.encode()).hexdigest()[:14]}"
    cus = f"cus_{hashlib.sha256(customer_id.encode()).hexdigest()[:14]}"
    return [
        event(
            f"evt_{sub_id[4:]}c{n}",
            "customer.subscription.created",
            t,
            subscription(
                sub_id,
                customer_id=customer_id,
                cus=cus,
                status="active",
                price=plan_price,
                period_end=t + 30 * 86400,
            ),
        ),
        event(
            f"evt_{sub_id[4:]}i{n}",
            "invoice.payment_succeeded",
            t,
            invoice(f"in_{sub_id[4:]}{n}", sub_id=sub_id, cus=cus, paid=True, customer_id=customer_id),
        ),
    ]


def deliver(client: Any, evt: dict[str, Any], secret: str, t: int | None = None) -> Any:
    """POST one signed event through a functions-framework test client."""
    raw = body(evt)
    return client.post(
        "/", data=raw, headers={"Stripe-Signature": sign(raw, secret, t), "Content-Type": "application/json"}
    )


# --- Stripe API responses (tests/fixtures/stripe) served through the real stripe library ----------------
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class ScriptedStripe(stripe.HTTPClient):
    """Answers each request with the next scripted (status, body); records what the library sent."""

    name = "scripted"

    def __init__(self, *responses: tuple[int, str]) -> None:
        super().__init__()
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        form = urllib.parse.parse_qs(post_data.decode() if isinstance(post_data, bytes) else post_data or "")
        self.requests.append(
            {"method": method.upper(), "url": url, "headers": dict(headers or {}), "form": form}
        )
        status, body = self.responses.pop(0)
        return body, status, {"Request-Id": f"req_{len(self.requests)}"}

    def request_stream(self, *args, **kwargs):  # pragma: no cover - not used by these calls
        raise NotImplementedError

    def close(self) -> None:
        pass

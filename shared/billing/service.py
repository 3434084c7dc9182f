"""Billing operations, as the app (create_checkout), the operator (`ytempire billing`) and the demo use
them: the seed's StripeService (create customer, create subscription, cancel, one-time payment intent,
list invoices) plus the Checkout Session and the customers' entitlements.

Every Stripe write carries an idempotency key derived from what it does (the same request twice is one
operation at Stripe). When Stripe stays unavailable through the adapter's retries, the operation is
recorded in `billing_actions` for manual processing (seed "Payment_Processing": Stripe → retry with
backoff → queue for manual processing) and ManualProcessing is raised, so the caller can say so.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from shared.billing import plans
from shared.billing.events import CUSTOMER_ID
from shared.config import Settings
from shared.log import get_logger

log = get_logger("billing.service")

CUSTOMER_FIELDS = (
    "customer_id",
    "stripe_customer_id",
    "subscription_id",
    "plan",
    "status",
    "videos_per_day",
    "channels",
    "current_period_end",
    "cancel_at_period_end",
)


# A Stripe test card (test mode and localstripe): lets a customer's first invoice be paid at once.
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


class ManualProcessing(RuntimeError):
    """Stripe stayed unavailable; the operation waits in billing_actions/{action_id} for an operator."""

    def __init__(self, operation: str, action_id: str, error: str):
        super().__init__(
            f"{operation}: Stripe is unavailable ({error}); recorded as billing action {action_id} "
            "for manual processing"
        )
        self.operation = operation
        self.action_id = action_id


class BillingRecords(Protocol):
    def customer(self, customer_id: str) -> dict[str, Any] | None: ...
    def customers(self, limit: int = 1000) -> list[dict[str, Any]]: ...
    def link_customer(
        self, customer_id: str, stripe_customer_id: str, *, email: str | None, now: datetime
    ) -> None: ...
    def record_action(self, key: str, record: dict[str, Any]) -> bool: ...


def idempotency_key(*parts: Any) -> str:
    """A stable key for one logical operation (Stripe keeps keys for 24 hours)."""
    return "ytempire-" + hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _guarded(
    operation: str,
    call: Any,
    *,
    key: str,
    params: dict[str, Any],
    customer_id: str | None,
    records: BillingRecords,
    now: datetime,
) -> dict[str, Any]:
    from shared.billing.stripe_api import StripeUnavailable

    try:
        return call()
    except StripeUnavailable as e:
        action_id = key.removeprefix("ytempire-")
        records.record_action(
            action_id,
            {
                "action_id": action_id,
                "operation": operation,
                "customer_id": customer_id,
                "params": params,
                "idempotency_key": key,
                "error": e.error,
                "attempts": e.attempts,
                "status": "pending",
                "created_at": now,
            },
        )
        log.error(
            "stripe unavailable: queued for manual processing",
            extra={"operation": operation, "action_id": action_id, "customer_id": customer_id},
        )
        raise ManualProcessing(operation, action_id, e.error) from None


def _today(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


# --- Checkout ------------------------------------------------------------------------------------------
def create_checkout(
    *,
    plan: str,
    period: str,
    customer_id: str | None,
    email: str | None,
    key: str | None,
    records: BillingRecords,
    stripe: Any,
    settings: Settings,
    now: datetime,
) -> dict[str, str]:
    """A Checkout Session in subscription mode for `plan`/`period`; `{url, session_id}`.

    With only an email, the customer's id is the email address. The subscription carries our customer id
    and plan in its metadata, so every later event names the customer it concerns."""
    price = plans.price_id(settings, plan, period)  # UnknownPlan → 400
    customer_id = customer_id or (email or "").lower()
    if not CUSTOMER_ID.match(customer_id):
        raise plans.UnknownPlan("customer_id", f"customer_id {customer_id!r} is not a valid customer id")
    meta = {"customer_id": customer_id, "plan": plan, "period": period}
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": settings.checkout_success_url,
        "cancel_url": settings.checkout_cancel_url,
        "client_reference_id": customer_id,
        "metadata": meta,
        "subscription_data": {"metadata": meta},
    }
    known = records.customer(customer_id) or {}
    if known.get("stripe_customer_id"):
        params["customer"] = known["stripe_customer_id"]
    elif email:
        params["customer_email"] = email
    key = key or idempotency_key("checkout", customer_id, plan, period, _today(now))
    session = _guarded(
        "create_checkout_session",
        lambda: stripe.create_checkout_session(params, idempotency_key=key),
        key=key,
        params=params,
        customer_id=customer_id,
        records=records,
        now=now,
    )
    return {"url": session["url"], "session_id": session["id"]}


# --- the seed's StripeService ------------------------------------------------------------------------
def create_customer(
    customer_id: str,
    *,
    email: str,
    name: str | None = None,
    payment_method: str | None = None,
    records: BillingRecords,
    stripe: Any,
    now: datetime,
) -> dict[str, Any]:
    """The customer's Stripe customer (created once; an existing link is returned as it is)."""
    known = records.customer(customer_id) or {}
    if known.get("stripe_customer_id"):
        return {
            "customer_id": customer_id,
            "stripe_customer_id": known["stripe_customer_id"],
            "created": None,
        }
    params: dict[str, Any] = {"email": email, "metadata": {"customer_id": customer_id}}
    if name:
        params["name"] = name
    if payment_method:
        params["payment_method"] = payment_method
        params["invoice_settings"] = {"default_payment_method": payment_method}
    key = idempotency_key("customer", customer_id, _today(now))
    cus = _guarded(
        "create_customer",
        lambda: stripe.create_customer(params, idempotency_key=key),
        key=key,
        params=params,
        customer_id=customer_id,
        records=records,
        now=now,
    )
    records.link_customer(customer_id, cus["id"], email=email, now=now)
    return {"customer_id": customer_id, "stripe_customer_id": cus["id"], "created": cus.get("created")}


def _stripe_customer(customer_id: str, records: BillingRecords) -> tuple[dict[str, Any], str]:
    doc = records.customer(customer_id)
    if not doc or not doc.get("stripe_customer_id"):
        raise LookupError(f"customer {customer_id} has no Stripe customer yet (billing create-customer)")
    return doc, doc["stripe_customer_id"]


def create_subscription(
    customer_id: str,
    *,
    plan: str,
    period: str = "monthly",
    payment_behavior: str = "default_incomplete",
    records: BillingRecords,
    stripe: Any,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """A subscription that waits for its first payment (`default_incomplete`); the client secret of the
    first invoice's payment intent lets the app confirm it. Entitlements follow from the webhooks."""
    price = plans.price_id(settings, plan, period)
    _, stripe_customer = _stripe_customer(customer_id, records)
    legacy = settings.stripe_legacy_api
    params: dict[str, Any] = {
        "customer": stripe_customer,
        "items": [{"plan" if legacy else "price": price}],
        "payment_behavior": payment_behavior,
        # The seed's latest_invoice.payment_intent; API versions since 2025-03-31 name it confirmation_secret.
        "expand": ["latest_invoice.payment_intent" if legacy else "latest_invoice.confirmation_secret"],
        "metadata": {"customer_id": customer_id, "plan": plan, "period": period},
    }
    key = idempotency_key("subscription", customer_id, plan, period, _today(now))
    sub = _guarded(
        "create_subscription",
        lambda: stripe.create_subscription(params, idempotency_key=key),
        key=key,
        params=params,
        customer_id=customer_id,
        records=records,
        now=now,
    )
    invoice = sub.get("latest_invoice") if isinstance(sub.get("latest_invoice"), dict) else {}
    holders = (invoice.get("confirmation_secret"), invoice.get("payment_intent"))
    secret_holder = next((v for v in holders if isinstance(v, dict)), {})
    from shared.billing.events import subscription_period_end

    return {
        "subscription_id": sub["id"],
        "status": sub.get("status"),
        "client_secret": secret_holder.get("client_secret"),
        "current_period_end": subscription_period_end(sub),
    }


def cancel_subscription(
    customer_id: str,
    *,
    immediate: bool,
    subscription_id: str | None = None,
    records: BillingRecords,
    stripe: Any,
    now: datetime,
) -> dict[str, Any]:
    """Immediately (new requests stop at once) or at the period end (the plan holds until then)."""
    doc = records.customer(customer_id) or {}
    subscription_id = subscription_id or doc.get("subscription_id")
    if not subscription_id:
        raise LookupError(f"customer {customer_id} has no subscription")
    key = idempotency_key("cancel", subscription_id, immediate, _today(now))
    sub = _guarded(
        "cancel_subscription",
        lambda: stripe.cancel_subscription(subscription_id, immediate=immediate, idempotency_key=key),
        key=key,
        params={"subscription_id": subscription_id, "immediate": immediate},
        customer_id=customer_id,
        records=records,
        now=now,
    )
    return {
        "subscription_id": subscription_id,
        "status": "cancelled" if immediate else "pending_cancellation",
        "cancel_at": sub.get("cancel_at") or (sub.get("ended_at") if immediate else None),
    }


def create_payment_intent(
    customer_id: str,
    *,
    amount_cents: int,
    currency: str = "usd",
    key: str | None = None,
    records: BillingRecords,
    stripe: Any,
    now: datetime,
) -> dict[str, Any]:
    """A one-time payment (amount in cents)."""
    if amount_cents < 50:
        raise ValueError("amount_cents: Stripe charges at least 50 cents")
    params: dict[str, Any] = {
        "amount": amount_cents,
        "currency": currency,
        "metadata": {"customer_id": customer_id},
    }
    doc = records.customer(customer_id) or {}
    if doc.get("stripe_customer_id"):
        params["customer"] = doc["stripe_customer_id"]
    key = key or idempotency_key("payment_intent", customer_id, uuid.uuid4().hex)
    intent = _guarded(
        "create_payment_intent",
        lambda: stripe.create_payment_intent(params, idempotency_key=key),
        key=key,
        params=params,
        customer_id=customer_id,
        records=records,
        now=now,
    )
    return {
        "payment_intent_id": intent["id"],
        "client_secret": intent.get("client_secret"),
        "amount": intent["amount"],
    }


def list_invoices(
    customer_id: str, *, limit: int = 10, records: BillingRecords, stripe: Any, now: datetime
) -> list[dict[str, Any]]:
    """The customer's invoices, newest first: id, amount paid in dollars, status, date, hosted page."""
    _, stripe_customer = _stripe_customer(customer_id, records)
    page = _guarded(
        "list_invoices",
        lambda: stripe.list_invoices(stripe_customer, limit=limit),
        key=idempotency_key("list_invoices", customer_id, now.isoformat()),
        params={"customer": stripe_customer, "limit": limit},
        customer_id=customer_id,
        records=records,
        now=now,
    )
    return [
        {
            "id": inv["id"],
            "amount_usd": str((Decimal(inv.get("amount_paid") or 0) / 100).quantize(Decimal("0.01"))),
            "status": inv.get("status"),
            "date": datetime.fromtimestamp(inv["created"], UTC).isoformat() if inv.get("created") else None,
            "pdf_url": inv.get("hosted_invoice_url") or inv.get("invoice_pdf"),
        }
        for inv in page.get("data", [])
    ]


# --- operator's view -------------------------------------------------------------------------------------
def customers_view(records: BillingRecords) -> list[dict[str, Any]]:
    """Every customer with the fields `ytempire billing customers --json` promises."""
    rows = []
    for doc in sorted(records.customers(), key=lambda d: d.get("customer_id") or ""):
        row = {f: doc.get(f) for f in CUSTOMER_FIELDS}
        row["status"] = row["status"] or "none"
        row["videos_per_day"] = int(row["videos_per_day"] or 0)
        row["channels"] = int(row["channels"] or 0)
        row["cancel_at_period_end"] = bool(row["cancel_at_period_end"])
        end = row["current_period_end"]
        row["current_period_end"] = end.isoformat() if isinstance(end, datetime) else None
        rows.append(row)
    return rows


def wait_for_plan(
    records: BillingRecords, customer_id: str, subscription_id: str, *, timeout_s: float
) -> bool:
    """Poll the customer document until the webhook made this subscription its usable plan."""
    deadline = time.monotonic() + timeout_s
    while True:
        doc = records.customer(customer_id) or {}
        if doc.get("subscription_id") == subscription_id and doc.get("status") in ("active", "trialing"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def plan_table(settings: Settings) -> list[dict[str, Any]]:
    """The plans as settings define them."""
    return [
        {
            "plan": name,
            "amount_usd": str(p.amount_usd),
            "channels": p.channels,
            "videos_per_day": p.videos_per_day,
            "price_ids": dict(p.price_ids),
        }
        for name, p in settings.plans.items()
    ]


def check_prices(settings: Settings, *, stripe: Any) -> list[str]:
    """Each configured price exists at Stripe, is recurring at the right interval and, for monthly
    prices, costs the plan's amount. Returns the problems found (none: the settings match Stripe)."""
    from shared.billing.stripe_api import StripeRefused

    problems = []
    for name, p in settings.plans.items():
        for period, price_id in p.price_ids.items():
            try:
                price = stripe.retrieve_price(price_id)
            except StripeRefused as e:
                problems.append(f"{name} {period}: {price_id}: {e}")
                continue
            interval = (price.get("recurring") or {}).get("interval")
            if interval != ("year" if period == "yearly" else "month"):
                problems.append(f"{name} {period}: {price_id} recurs every {interval!r}")
            if period == "monthly" and price.get("unit_amount") != int(p.amount_usd * 100):
                problems.append(
                    f"{name} monthly: {price_id} costs {price.get('unit_amount')} cents, the plan says "
                    f"{int(p.amount_usd * 100)}"
                )
    return problems

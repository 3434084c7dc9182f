"""Billing operations through the real stripe library, against Stripe responses hand-written in Stripe's
documented shape (tests/fixtures/stripe/, for what localstripe lacks: Checkout Sessions, Prices): what is
sent (path, form fields, idempotency key), what is read back, retries with backoff on 429/5xx with the
same key, and the manual-processing fallback when Stripe stays unavailable."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import stripe

from shared.billing import service
from shared.billing.plans import UnknownPlan
from shared.billing.service import ManualProcessing
from shared.billing.stripe_api import StripeGateway, StripeRefused
from shared.config import Settings
from tests.billing_helpers import ScriptedStripe, fixture

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Records:
    """In-memory billing records (customers, links, actions)."""

    def __init__(self, customers: dict[str, dict] | None = None) -> None:
        self.docs = customers or {}
        self.actions: dict[str, dict] = {}

    def customer(self, customer_id):
        return self.docs.get(customer_id)

    def customers(self, limit=1000):
        return list(self.docs.values())

    def link_customer(self, customer_id, stripe_customer_id, *, email, now):
        self.docs.setdefault(customer_id, {"customer_id": customer_id})["stripe_customer_id"] = (
            stripe_customer_id
        )

    def record_action(self, key, record):
        if key in self.actions:
            return False
        self.actions[key] = record
        return True


def gateway(*responses, **settings) -> tuple[StripeGateway, ScriptedStripe, list[float]]:
    http = ScriptedStripe(*responses)
    sleeps: list[float] = []
    s = Settings(stripe_api_key="sk_test_unit", **settings)
    return StripeGateway(s, http_client=http, sleep=sleeps.append), http, sleeps


def test_checkout_session_in_subscription_mode_with_idempotency_key():
    gw, http, _ = gateway((200, fixture("checkout_session_created.json")))
    out = service.create_checkout(
        plan="starter",
        period="monthly",
        customer_id="cust-42",
        email="owner@example.com",
        key=None,
        records=Records(),
        stripe=gw,
        settings=Settings(),
        now=NOW,
    )
    assert out == {
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6",
        "session_id": "cs_test_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6",
    }
    (req,) = http.requests
    assert req["method"] == "POST" and req["url"].endswith("/v1/checkout/sessions")
    f = req["form"]
    assert f["mode"] == ["subscription"] and f["line_items[0][price]"] == ["price_starter_monthly"]
    assert f["client_reference_id"] == ["cust-42"] and f["customer_email"] == ["owner@example.com"]
    assert f["subscription_data[metadata][customer_id]"] == ["cust-42"]
    assert f["subscription_data[metadata][plan]"] == ["starter"]
    key = req["headers"]["Idempotency-Key"]
    assert key == service.idempotency_key("checkout", "cust-42", "starter", "monthly", "2026-11-22")


def test_checkout_uses_the_known_stripe_customer_and_email_as_id():
    gw, http, _ = gateway(
        (200, fixture("checkout_session_created.json")), (200, fixture("checkout_session_created.json"))
    )
    records = Records({"cust-42": {"customer_id": "cust-42", "stripe_customer_id": "cus_Known"}})
    service.create_checkout(
        plan="growth",
        period="yearly",
        customer_id="cust-42",
        email=None,
        key="client-key-1",
        records=records,
        stripe=gw,
        settings=Settings(),
        now=NOW,
    )
    f = http.requests[0]["form"]
    assert f["customer"] == ["cus_Known"] and "customer_email" not in f
    assert f["line_items[0][price]"] == ["price_growth_yearly"]
    assert http.requests[0]["headers"]["Idempotency-Key"] == "client-key-1"
    service.create_checkout(
        plan="scale",
        period="monthly",
        customer_id=None,
        email="Owner@Example.com",
        key=None,
        records=Records(),
        stripe=gw,
        settings=Settings(),
        now=NOW,
    )
    assert http.requests[1]["form"]["client_reference_id"] == ["owner@example.com"]


@pytest.mark.parametrize(
    ("plan", "period", "field"), [("platinum", "monthly", "plan"), ("starter", "weekly", "period")]
)
def test_unknown_plan_or_period_is_refused_before_any_call(plan, period, field):
    gw, http, _ = gateway()
    with pytest.raises(UnknownPlan) as e:
        service.create_checkout(
            plan=plan,
            period=period,
            customer_id="c",
            email=None,
            key=None,
            records=Records(),
            stripe=gw,
            settings=Settings(),
            now=NOW,
        )
    assert e.value.field == field and http.requests == []


def test_subscription_default_incomplete_returns_the_client_secret():
    gw, http, _ = gateway((200, fixture("subscription_default_incomplete.json")))
    records = Records({"cust-42": {"customer_id": "cust-42", "stripe_customer_id": "cus_RaBcDeFgHiJkLm"}})
    out = service.create_subscription(
        "cust-42", plan="growth", records=records, stripe=gw, settings=Settings(), now=NOW
    )
    assert out == {
        "subscription_id": "sub_1QaBcDeFgHiJkLmN",
        "status": "incomplete",
        "client_secret": "pi_3QaBcDeFgHiJkLmN_secret_XyZ0123456789abcdef",
        "current_period_end": 1797892000,
    }
    f = http.requests[0]["form"]
    assert f["payment_behavior"] == ["default_incomplete"] and f["items[0][price]"] == [
        "price_growth_monthly"
    ]
    assert f["expand[0]"] == ["latest_invoice.confirmation_secret"] and f["metadata[customer_id]"] == [
        "cust-42"
    ]


def test_rate_limits_and_5xx_are_retried_with_backoff_and_the_same_key():
    gw, http, sleeps = gateway(
        (429, fixture("error_rate_limit.json")),
        (500, json.dumps({"error": {"type": "api_error", "message": "boom"}})),
        (200, fixture("checkout_session_created.json")),
        stripe_retry_base_s=0.5,
    )
    out = service.create_checkout(
        plan="starter",
        period="monthly",
        customer_id="cust-42",
        email=None,
        key=None,
        records=Records(),
        stripe=gw,
        settings=Settings(),
        now=NOW,
    )
    assert out["session_id"].startswith("cs_test_")
    assert len(http.requests) == 3 and len({r["headers"]["Idempotency-Key"] for r in http.requests}) == 1
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # jittered exponential backoff


def test_after_the_retries_the_operation_waits_for_manual_processing():
    gw, http, sleeps = gateway(
        *[(503, json.dumps({"error": {"type": "api_error"}}))] * 4, stripe_max_attempts=4
    )
    records = Records({"cust-42": {"customer_id": "cust-42", "subscription_id": "sub_1"}})
    with pytest.raises(ManualProcessing) as e:
        service.cancel_subscription("cust-42", immediate=False, records=records, stripe=gw, now=NOW)
    assert len(http.requests) == 4 and len(sleeps) == 3
    action = records.actions[e.value.action_id]
    assert action["operation"] == "cancel_subscription" and action["status"] == "pending"
    assert action["params"] == {"subscription_id": "sub_1", "immediate": False} and action["attempts"] == 4
    assert action["idempotency_key"] == http.requests[0]["headers"]["Idempotency-Key"]
    assert "billing action" in str(e.value)


def test_a_refusal_is_not_retried_and_not_queued():
    gw, http, _ = gateway((400, fixture("error_no_such_price.json")))
    records = Records()
    with pytest.raises(StripeRefused, match="No such price") as e:
        service.create_checkout(
            plan="starter",
            period="monthly",
            customer_id="c1",
            email=None,
            key=None,
            records=records,
            stripe=gw,
            settings=Settings(),
            now=NOW,
        )
    assert e.value.status == 400 and len(http.requests) == 1 and records.actions == {}


def test_connection_errors_are_retried():
    class Flaky(ScriptedStripe):
        def request(self, *args, **kwargs):
            if len(self.requests) < 1:
                self.requests.append({})
                raise stripe.APIConnectionError("connection reset")
            return super().request(*args, **kwargs)

    http = Flaky((200, fixture("price_growth_monthly.json")))
    gw = StripeGateway(Settings(stripe_api_key="sk_test_unit"), http_client=http, sleep=lambda _s: None)
    assert gw.retrieve_price("price_growth_monthly")["unit_amount"] == 29700


def test_prices_are_checked_against_the_plans():
    growth = fixture("price_growth_monthly.json")
    yearly = json.dumps({**json.loads(growth), "id": "price_x", "recurring": {"interval": "year"}})
    missing = fixture("error_no_such_price.json")
    gw, _, _ = gateway(
        (200, growth), (404, missing), (200, growth), (200, yearly), (200, growth), (200, yearly)
    )
    problems = service.check_prices(Settings(), stripe=gw)
    assert any("starter monthly" in p and "costs 29700 cents" in p for p in problems)
    assert any("starter yearly" in p and "No such price" in p for p in problems)
    assert not any(p.startswith("growth") for p in problems)
    assert any("scale monthly" in p for p in problems)


def test_invoices_payment_intent_and_customer():
    invoices = {
        "object": "list",
        "has_more": False,
        "data": [
            {
                "id": "in_1",
                "object": "invoice",
                "amount_paid": 9700,
                "status": "paid",
                "created": 1795300000,
                "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/in_1",
            }
        ],
    }
    intent = {"id": "pi_1", "object": "payment_intent", "amount": 500, "client_secret": "pi_1_secret_x"}
    customer = {"id": "cus_New", "object": "customer", "created": 1795300000}
    gw, http, _ = gateway((200, json.dumps(invoices)), (200, json.dumps(intent)), (200, json.dumps(customer)))
    records = Records({"c1": {"customer_id": "c1", "stripe_customer_id": "cus_1"}})
    rows = service.list_invoices("c1", records=records, stripe=gw, now=NOW)
    assert rows == [
        {
            "id": "in_1",
            "amount_usd": "97.00",
            "status": "paid",
            "date": "2026-11-21T22:26:40+00:00",
            "pdf_url": "https://invoice.stripe.com/i/acct_1/in_1",
        }
    ]
    assert http.requests[0]["method"] == "GET" and "customer=cus_1" in http.requests[0]["url"]
    out = service.create_payment_intent(
        "c1", amount_cents=500, key="pi-key-1", records=records, stripe=gw, now=NOW
    )
    assert out == {"payment_intent_id": "pi_1", "client_secret": "pi_1_secret_x", "amount": 500}
    assert http.requests[1]["headers"]["Idempotency-Key"] == "pi-key-1"
    new = service.create_customer("c2", email="c2@example.com", records=records, stripe=gw, now=NOW)
    assert new["stripe_customer_id"] == "cus_New" and records.docs["c2"]["stripe_customer_id"] == "cus_New"
    again = service.create_customer("c2", email="c2@example.com", records=records, stripe=gw, now=NOW)
    assert again["stripe_customer_id"] == "cus_New" and len(http.requests) == 3  # no second customer
    with pytest.raises(ValueError, match="at least 50 cents"):
        service.create_payment_intent("c1", amount_cents=10, records=records, stripe=gw, now=NOW)
    with pytest.raises(LookupError, match="no Stripe customer"):
        service.list_invoices("nobody", records=records, stripe=gw, now=NOW)


def test_customers_view_has_exactly_the_promised_fields():
    end = datetime(2026, 12, 22, tzinfo=UTC)
    records = Records(
        {
            "b": {
                "customer_id": "b",
                "plan": "starter",
                "status": "active",
                "videos_per_day": 15,
                "channels": 5,
                "current_period_end": end,
                "subscription_id": "sub_1",
                "stripe_customer_id": "cus_1",
                "cancel_at_period_end": False,
                "subscriptions": {},
                "email": "b@example.com",
            },
            "a": {"customer_id": "a"},
        }
    )
    rows = service.customers_view(records)
    assert [r["customer_id"] for r in rows] == ["a", "b"]
    assert all(list(r) == list(service.CUSTOMER_FIELDS) for r in rows)
    assert rows[0]["status"] == "none" and rows[1]["current_period_end"] == "2026-12-22T00:00:00+00:00"

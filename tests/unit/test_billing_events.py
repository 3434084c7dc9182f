"""Stripe events → subscription facts → entitlements, as pure functions: both payload shapes, order
independence, and what a customer may do (no plan, grace period, period-end and immediate cancellation,
channels, the Pacific day)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.billing import entitlements
from shared.billing.entitlements import LimitReached, PaymentRequired
from shared.billing.events import (
    MalformedEvent,
    apply_fact,
    new_subscription_doc,
    parse_event,
    subscription_view,
    to_fact,
)
from shared.config import Settings
from tests.billing_helpers import NEW_API, OLD_API, checkout_session, event, invoice, subscription

S = Settings()
T0 = 1_795_000_000  # a Unix time in November 2026
MONTH = 30 * 86400


def fact(evt: dict):
    return to_fact(parse_event(evt), S)


def sub_event(
    eid: str, etype: str, created: int, *, status="active", price="price_starter_monthly", api=NEW_API, **kw
):
    obj = subscription(
        "sub_A1",
        customer_id="cust-a",
        cus="cus_A1",
        status=status,
        price=price,
        period_end=T0 + MONTH,
        api=api,
        **kw,
    )
    return event(eid, etype, created, obj, api=api)


def build(evts) -> dict:
    doc = new_subscription_doc("sub_A1")
    for e in evts:
        doc, _ = apply_fact(doc, fact(e))
    return doc


# --- payload shapes -------------------------------------------------------------------------------
@pytest.mark.parametrize("api", [OLD_API, NEW_API])
def test_subscription_price_and_period_end_in_either_shape(api):
    f = fact(sub_event("evt_1", "customer.subscription.created", T0, api=api, price="price_growth_yearly"))
    assert f.kind == "subscription" and f.subscription_id == "sub_A1" and f.customer_id == "cust-a"
    assert f.values["plan"] == "growth" and f.values["period"] == "yearly"
    assert f.values["current_period_end"] == T0 + MONTH


@pytest.mark.parametrize("api", [OLD_API, NEW_API])
def test_invoice_subscription_id_in_either_shape(api):
    obj = invoice("in_1", sub_id="sub_A1", cus="cus_A1", paid=False, customer_id="cust-a", api=api)
    f = fact(event("evt_2", "invoice.payment_failed", T0, obj, api=api))
    assert f.kind == "payment" and f.subscription_id == "sub_A1" and f.values["paid"] is False
    assert f.customer_id == ("cust-a" if api == NEW_API else None)  # only newer shapes carry the metadata


def test_invoice_subscription_from_2023_shape_and_lines():
    mid = {
        "id": "in_3",
        "customer": "cus_A1",
        "subscription_details": {"metadata": {"customer_id": "cust-a"}},
        "lines": {"data": [{"parent": {"subscription_item_details": {"subscription": "sub_A1"}}}]},
    }
    f = fact(event("evt_3", "invoice.payment_succeeded", T0, mid))
    assert (f.subscription_id, f.customer_id) == ("sub_A1", "cust-a")


def test_one_time_invoice_and_payment_mode_checkout_concern_no_subscription():
    assert (
        fact(
            event(
                "evt_4",
                "invoice.payment_succeeded",
                T0,
                invoice("in_4", sub_id=None, cus="cus_A1", paid=True),
            )
        )
        is None
    )
    session = {
        **checkout_session("cs_1", sub_id="sub_A1", cus="cus_A1", customer_id="cust-a", plan="scale"),
        "mode": "payment",
    }
    assert fact(event("evt_5", "checkout.session.completed", T0, session)) is None


def test_checkout_names_customer_plan_and_subscription():
    f = fact(
        event(
            "evt_6",
            "checkout.session.completed",
            T0,
            checkout_session("cs_1", sub_id="sub_A1", cus="cus_A1", customer_id="cust-a", plan="scale"),
        )
    )
    assert (f.kind, f.customer_id, f.values["plan"], f.values["status"]) == (
        "checkout",
        "cust-a",
        "scale",
        "active",
    )


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"id": "x"},
        {"id": "evt_1", "type": "t", "created": "now", "data": {"object": {}}},
        {"id": "evt_1", "type": "t", "created": 5, "data": {}},
        {"id": "evt_../../x", "type": "t", "created": 5, "data": {"object": {}}},
        {"id": "evt_1", "type": "t", "created": True, "data": {"object": {}}},
    ],
)
def test_malformed_envelopes_are_refused(payload):
    with pytest.raises(MalformedEvent):
        parse_event(payload)


@pytest.mark.parametrize(
    ("etype", "obj"),
    [
        ("customer.subscription.updated", {"id": "sub_1", "status": ["active"]}),
        ("customer.subscription.updated", {"id": "nope", "status": "active"}),
        ("customer.subscription.updated", {"id": "sub_1", "status": "dancing"}),
        ("checkout.session.completed", {"mode": "subscription"}),
    ],
)
def test_handled_types_with_unreadable_objects_are_refused(etype, obj):
    with pytest.raises(MalformedEvent):
        fact(event("evt_7", etype, T0, obj))


def test_customer_ids_from_payloads_must_be_document_ids():
    obj = subscription(
        "sub_A1", customer_id="a/b", cus="cus_A1", status="active", price="price_scale_monthly", period_end=T0
    )
    assert fact(event("evt_8", "customer.subscription.created", T0, obj)).customer_id is None


# --- order --------------------------------------------------------------------------------------------
def lifecycle():
    return [
        event(
            "evt_c",
            "checkout.session.completed",
            T0,
            checkout_session("cs_1", sub_id="sub_A1", cus="cus_A1", customer_id="cust-a", plan="starter"),
        ),
        sub_event("evt_s1", "customer.subscription.created", T0, status="incomplete"),
        sub_event("evt_s2", "customer.subscription.updated", T0, status="active"),
        event(
            "evt_i1",
            "invoice.payment_succeeded",
            T0,
            invoice("in_1", sub_id="sub_A1", cus="cus_A1", paid=True),
        ),
        event(
            "evt_i2",
            "invoice.payment_failed",
            T0 + MONTH,
            invoice("in_2", sub_id="sub_A1", cus="cus_A1", paid=False),
        ),
        sub_event("evt_s3", "customer.subscription.updated", T0 + MONTH + 1, status="past_due"),
        event(
            "evt_i3",
            "invoice.payment_failed",
            T0 + MONTH + 3 * 86400,
            invoice("in_2", sub_id="sub_A1", cus="cus_A1", paid=False),
        ),
        event(
            "evt_i4",
            "invoice.payment_succeeded",
            T0 + MONTH + 4 * 86400,
            invoice("in_2", sub_id="sub_A1", cus="cus_A1", paid=True),
        ),
        sub_event(
            "evt_s4",
            "customer.subscription.updated",
            T0 + MONTH + 4 * 86400,
            status="active",
            price="price_growth_monthly",
        ),
    ]


def test_in_order_lifecycle_ends_active_on_growth():
    view = subscription_view(build(lifecycle()), S)
    assert (view["status"], view["plan"], view["videos_per_day"], view["past_due_since"]) == (
        "active",
        "growth",
        30,
        None,
    )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.permutations(range(len(lifecycle()))), st.lists(st.integers(0, 8), max_size=6))
def test_any_order_and_duplicates_end_in_the_same_state(order, dups):
    evts = lifecycle()
    shuffled = [evts[i] for i in order] + [evts[i] for i in dups]
    assert build(shuffled) == build(evts)


def test_a_stale_event_changes_nothing():
    doc = build(lifecycle())
    _, changed = apply_fact(
        doc, fact(sub_event("evt_old", "customer.subscription.updated", T0 + 10, status="canceled"))
    )
    assert changed is False


def test_same_second_later_stage_wins():
    a = sub_event("evt_x1", "customer.subscription.created", T0, status="incomplete")
    b = sub_event("evt_x2", "customer.subscription.updated", T0, status="active")
    for pair in itertools.permutations([a, b]):
        assert subscription_view(build(pair), S)["status"] == "active"


def test_failed_payment_after_last_success_makes_past_due_from_the_first_failure():
    evts = [*lifecycle()[:5], lifecycle()[6]]
    view = subscription_view(build(evts), S)
    assert view["status"] == "past_due" and view["past_due_since"] == T0 + MONTH


# --- entitlements ------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles


def customer(**over):
    view = {
        "subscription_id": "sub_A1",
        "status": "active",
        "plan": "starter",
        "period": "monthly",
        "videos_per_day": 15,
        "channels": 5,
        "current_period_end": int((NOW + timedelta(days=20)).timestamp()),
        "cancel_at_period_end": False,
        "canceled_at": None,
        "past_due_since": None,
        "as_of": T0,
    }
    view.update(over)
    return entitlements.with_subscription(None, "cust-a", view, S, stripe_customer_id="cus_A1", now=NOW)


def test_no_customer_or_no_plan_is_payment_required():
    with pytest.raises(PaymentRequired, match="no active plan") as e:
        entitlements.decide(None, "cust-a", channel_id=None, now=NOW, settings=S)
    assert e.value.status == 402 and e.value.field == "customer_id"


def test_active_plan_admits_with_its_limit_and_the_pacific_day():
    adm = entitlements.decide(customer(), "cust-a", channel_id=None, now=NOW, settings=S)
    assert (adm.plan, adm.videos_per_day, adm.day) == ("starter", 15, "2026-11-22")
    assert adm.resets_at.isoformat() == "2026-11-23T00:00:00-08:00"


def test_pacific_day_rolls_at_pacific_midnight_not_utc():
    late = datetime(2026, 11, 23, 7, 59, tzinfo=UTC)  # 23:59 in Los Angeles
    assert entitlements.billing_day(late, S)[0] == "2026-11-22"
    assert entitlements.billing_day(late + timedelta(minutes=1), S)[0] == "2026-11-23"


def test_grace_period_then_refusal():
    since = int((NOW - timedelta(days=2)).timestamp())
    doc = customer(status="past_due", past_due_since=since)
    assert entitlements.decide(doc, "cust-a", channel_id=None, now=NOW, settings=S).plan == "starter"
    with pytest.raises(PaymentRequired, match="3-day grace period ended") as e:
        entitlements.decide(
            doc, "cust-a", channel_id=None, now=NOW + timedelta(days=1, seconds=1), settings=S
        )
    assert "past due since" in str(e.value)
    assert (
        entitlements.decide(
            doc,
            "cust-a",
            channel_id=None,
            now=NOW + timedelta(days=3),
            settings=Settings(billing_grace_period_days=7),
        ).plan
        == "starter"
    )


def test_cancel_at_period_end_keeps_the_plan_until_then():
    end = NOW + timedelta(days=1)
    doc = customer(cancel_at_period_end=True, current_period_end=int(end.timestamp()))
    assert entitlements.decide(doc, "cust-a", channel_id=None, now=NOW, settings=S).plan == "starter"
    with pytest.raises(PaymentRequired, match="cancel at its period end"):
        entitlements.decide(doc, "cust-a", channel_id=None, now=end, settings=S)


@pytest.mark.parametrize(
    ("status", "message"),
    [("canceled", "was canceled"), ("incomplete", "first payment"), ("unpaid", "is unpaid")],
)
def test_immediate_cancellation_and_unpaid_stop_at_once(status, message):
    with pytest.raises(PaymentRequired, match=message):
        entitlements.decide(customer(status=status), "cust-a", channel_id=None, now=NOW, settings=S)


def test_a_usable_subscription_beats_a_canceled_one_and_bigger_plans_win():
    doc = customer(status="canceled")
    view = {
        **doc["subscriptions"]["sub_A1"],
        "subscription_id": "sub_B2",
        "status": "active",
        "plan": "scale",
        "videos_per_day": 75,
        "channels": 25,
    }
    doc = entitlements.with_subscription(doc, "cust-a", view, S, stripe_customer_id=None, now=NOW)
    assert (doc["subscription_id"], doc["plan"], doc["videos_per_day"]) == ("sub_B2", "scale", 75)


def test_channels_per_plan():
    doc = customer(channels=2)
    doc["channels_used"] = ["UC1", "UC2"]
    assert entitlements.decide(doc, "cust-a", channel_id="UC2", now=NOW, settings=S).new_channel is None
    with pytest.raises(LimitReached, match="allows 2 channels") as e:
        entitlements.decide(doc, "cust-a", channel_id="UC3", now=NOW, settings=S)
    assert e.value.status == 429 and e.value.details["limit"] == 2
    doc["channels_used"] = ["UC1"]
    assert entitlements.decide(doc, "cust-a", channel_id="UC3", now=NOW, settings=S).new_channel == "UC3"


def test_daily_limit_message_says_limit_and_reset():
    adm = entitlements.decide(customer(), "cust-a", channel_id=None, now=NOW, settings=S)
    err = entitlements.daily_limit_reached(adm, now=NOW, settings=S)
    assert err.status == 429 and err.details == {"limit": 15, "resets_at": "2026-11-23T00:00:00-08:00"}
    assert "allows 15 videos per day" in str(err) and "resets at 2026-11-23T00:00:00-08:00" in str(err)
    assert err.headers["Retry-After"] == str(14 * 3600)

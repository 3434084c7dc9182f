"""Billing on the local stack (Firestore emulator, localstripe, the functions through functions-framework):
the webhook's signature gate, one read per duplicate, a replay storm, fuzzing, plan limits enforced by
video_request under concurrency, grace period and cancellations, checkout, and localstripe's real
webhooks."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import functions_framework
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.local.functions_host import MAIN
from shared import bootstrap
from shared.billing import service
from shared.billing.events import HANDLED
from shared.billing.stripe_api import StripeGateway
from tests.billing_helpers import (
    OLD_API,
    ScriptedStripe,
    active_plan_events,
    body,
    checkout_session,
    deliver,
    event,
    fixture,
    invoice,
    sign,
    subscription,
)
from tests.fakes import RecordingQueue

pytestmark = pytest.mark.integration
DAY = 86400
BILLING_COLLECTIONS = (
    "stripe_events",
    "stripe_subscriptions",
    "stripe_customers",
    "customers",
    "billing_actions",
)


def _prefixed(stack, prefix: str, **overrides):
    s = stack.settings.model_copy(update={"collection_prefix": prefix})
    c = stack.container(**overrides)
    c.settings = s
    return c


@pytest.fixture()
def billing(stack, request):
    """A container on its own collection prefix (tests do not see each other's documents), installed for
    the functions; the functions' test clients; the webhook secret."""
    prefix = f"t{abs(hash(request.node.nodeid)) % 10**8}-{time.time_ns() % 10**6}-"
    queue = RecordingQueue()
    c = _prefixed(stack, prefix, queue=queue)
    bootstrap.use(c)
    clients = {
        n: functions_framework.create_app(n, str(MAIN)).test_client()
        for n in ("stripe_webhook", "video_request", "create_checkout")
    }
    yield c, clients, c.settings.stripe_webhook_secret.get_secret_value(), queue
    bootstrap.use(stack.container())


def snapshot(c, *, volatile: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Every billing document of the container's prefix, by collection/id, without `volatile` fields."""
    out: dict[str, dict[str, Any]] = {}
    for name in BILLING_COLLECTIONS:
        for snap in c.firestore.collection(f"{c.settings.collection_prefix}{name}").stream():
            out[f"{name}/{snap.id}"] = {k: v for k, v in snap.to_dict().items() if k not in volatile}
    return out


def post_video(client, customer_id: str, key: str, **extra) -> Any:
    return client.post(
        "/", json={"customer_id": customer_id, "topic": "How tides work", "idempotency_key": key, **extra}
    )


# --- the signature gate ---------------------------------------------------------------------------------
def test_missing_wrong_or_stale_signatures_are_400_and_write_nothing(billing):
    c, clients, secret, _ = billing
    (evt, _) = active_plan_events("sig-cust")
    raw = body(evt)
    now = int(time.time())
    cases = {
        "missing": {},
        "wrong secret": {"Stripe-Signature": sign(raw, "whsec_wrong", now)},
        "stale": {"Stripe-Signature": sign(raw, secret, now - 301)},
        "tampered": {"Stripe-Signature": sign(raw + b" ", secret, now)},
        "garbage": {"Stripe-Signature": "t=abc,v1=é"},
        "no v1": {"Stripe-Signature": f"t={now},v0=abc"},
    }
    before = snapshot(c)
    for name, headers in cases.items():
        resp = clients["stripe_webhook"].post("/", data=raw, headers=headers)
        assert resp.status_code == 400, name
        assert resp.get_json()["field"] == "Stripe-Signature", name
    assert snapshot(c) == before == {}
    assert clients["stripe_webhook"].get("/").status_code == 405
    ok = clients["stripe_webhook"].post(
        "/", data=raw, headers={"Stripe-Signature": sign(raw, secret, int(time.time()) - 290)}
    )
    assert ok.status_code == 200 and ok.get_json()["outcome"] == "applied"


def test_signed_but_not_an_event_is_400_and_writes_nothing(billing):
    c, clients, secret, _ = billing
    for raw in (
        b"not json",
        b"[]",
        b'{"id": "evt_1"}',
        json.dumps(
            event("evt_bad1", "customer.subscription.updated", 5, {"id": "sub_1", "status": 3})
        ).encode(),
    ):
        resp = clients["stripe_webhook"].post("/", data=raw, headers={"Stripe-Signature": sign(raw, secret)})
        assert resp.status_code == 400 and resp.get_json()["field"] == "body"
    assert snapshot(c) == {}


class CountingBilling:
    """The real Firestore billing store, counting the calls the webhook makes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if callable(attr):

            def counted(*a, **kw):
                self.calls[name] += 1
                return attr(*a, **kw)

            return counted
        return attr


def test_a_redelivered_event_costs_one_read_and_changes_nothing(stack):
    c = _prefixed(stack, f"dup{time.time_ns() % 10**8}-")
    counting = CountingBilling(c.billing)
    c.__dict__["billing"] = counting  # the cached adapter, replaced by the counting one
    bootstrap.use(c)
    try:
        client = functions_framework.create_app("stripe_webhook", str(MAIN)).test_client()
        secret = c.settings.stripe_webhook_secret.get_secret_value()
        evts = active_plan_events("dup-cust")
        assert [deliver(client, e, secret).get_json()["outcome"] for e in evts] == ["applied", "applied"]
        before = snapshot(c)
        counting.calls.clear()
        again = [deliver(client, e, secret).get_json()["outcome"] for e in evts]
        assert again == ["duplicate", "duplicate"]
        assert counting.calls == Counter({"event_status": 2})  # one document read each, no transaction
        assert snapshot(c) == before
        # the same event delivered concurrently is applied once
        third = event(
            "evt_concurrent1",
            "customer.subscription.updated",
            int(time.time()),
            subscription(
                "sub_conc1",
                customer_id="dup-cust",
                cus="cus_dup",
                status="active",
                price="price_scale_monthly",
                period_end=int(time.time()) + 30 * DAY,
            ),
        )
        app = functions_framework.create_app("stripe_webhook", str(MAIN))
        clients = [app.test_client() for _ in range(8)]
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda cl: deliver(cl, third, secret), clients))
        outcomes = [r.get_json().get("outcome", r.status_code) for r in replies]
        assert outcomes.count("applied") == 1 and set(outcomes) <= {"applied", "duplicate", 409}, outcomes
        assert deliver(client, third, secret).get_json()["outcome"] == "duplicate"  # Stripe's later retry
    finally:
        bootstrap.use(stack.container())


# --- the replay storm ------------------------------------------------------------------------------------
def _month_of_lives(start: int, rng: random.Random) -> tuple[list[dict], dict[str, tuple[str, str]]]:
    """A month of a few customers' lives as Stripe would tell it, with the noise of unhandled types.
    Returns the events in the order they happened and each customer's expected (status, plan)."""
    evts: list[dict] = []
    expect: dict[str, tuple[str, str]] = {}
    n = 0

    def add(etype: str, t: int, obj: dict, api: str = "2025-03-31.basil") -> None:
        nonlocal n
        n += 1
        evts.append(event(f"evt_storm{n:05d}", etype, t, obj, api=api))

    def sub(kind, t, sid, cid, status, price, **kw):
        add(
            f"customer.subscription.{kind}",
            t,
            subscription(
                sid,
                customer_id=cid,
                cus=f"cus_{sid[4:]}",
                status=status,
                price=price,
                period_end=start + 30 * DAY,
                **kw,
            ),
        )

    def inv(t, sid, cid, paid, api="2025-03-31.basil"):
        add(
            "invoice.payment_succeeded" if paid else "invoice.payment_failed",
            t,
            invoice(
                f"in_{sid[4:]}{t}", sub_id=sid, cus=f"cus_{sid[4:]}", paid=paid, customer_id=cid, api=api
            ),
            api=api,
        )

    def noise(t, cid, k):
        for i in range(k):
            add(
                rng.choice(
                    [
                        "charge.succeeded",
                        "invoice.created",
                        "invoice.finalized",
                        "customer.updated",
                        "payment_intent.succeeded",
                        "invoice.upcoming",
                    ]
                ),
                t + i,
                {"id": f"obj_{cid}{t}{i}", "object": "thing", "customer": f"cus_{cid}"},
            )

    for k in range(6):
        cid, t = f"storm-{k}", start + k * 3600
        sid = f"sub_storm{k}a"
        if k == 0:  # checkout, then an upgrade
            add(
                "checkout.session.completed",
                t,
                checkout_session(
                    f"cs_{k}", sub_id=sid, cus=f"cus_{sid[4:]}", customer_id=cid, plan="starter"
                ),
            )
            sub("created", t, sid, cid, "incomplete", "price_starter_monthly")
            sub("updated", t, sid, cid, "active", "price_starter_monthly")
            inv(t, sid, cid, True)
            sub("updated", t + 10 * DAY, sid, cid, "active", "price_growth_monthly")
            inv(t + 10 * DAY + 5, sid, cid, True)
            expect[cid] = ("active", "growth")
        elif k == 1:  # renewal fails twice: past due
            sub("created", t, sid, cid, "active", "price_starter_monthly")
            inv(t, sid, cid, True)
            inv(t + 29 * DAY, sid, cid, False)
            sub("updated", t + 29 * DAY + 2, sid, cid, "past_due", "price_starter_monthly")
            inv(t + 29 * DAY + 3 * 3600, sid, cid, False)
            expect[cid] = ("past_due", "starter")
        elif k == 2:  # cancel at period end, then ended
            sub("created", t, sid, cid, "active", "price_scale_monthly")
            inv(t, sid, cid, True)
            sub("updated", t + 5 * DAY, sid, cid, "active", "price_scale_monthly", cancel_at_period_end=True)
            sub(
                "deleted",
                t + 29 * DAY,
                sid,
                cid,
                "canceled",
                "price_scale_monthly",
                cancel_at_period_end=True,
                canceled_at=t + 29 * DAY,
            )
            expect[cid] = ("canceled", "scale")
        elif k == 3:  # canceled immediately
            sub("created", t, sid, cid, "active", "price_growth_yearly")
            inv(t, sid, cid, True)
            sub(
                "deleted", t + 12 * DAY, sid, cid, "canceled", "price_growth_yearly", canceled_at=t + 12 * DAY
            )
            expect[cid] = ("canceled", "growth")
        elif k == 4:  # first payment fails, then recovers
            add(
                "checkout.session.completed",
                t,
                checkout_session(
                    f"cs_{k}", sub_id=sid, cus=f"cus_{sid[4:]}", customer_id=cid, plan="starter"
                ),
            )
            sub("created", t, sid, cid, "active", "price_starter_monthly")
            inv(t + DAY, sid, cid, False)
            sub("updated", t + DAY + 1, sid, cid, "past_due", "price_starter_monthly")
            inv(t + 2 * DAY, sid, cid, True)
            sub("updated", t + 2 * DAY + 1, sid, cid, "active", "price_starter_monthly")
            expect[cid] = ("active", "starter")
        else:  # old API shapes (as localstripe sends), canceled, then a new subscription
            add(
                "customer.subscription.created",
                t,
                subscription(
                    sid,
                    customer_id=cid,
                    cus=f"cus_{cid}",
                    status="active",
                    price="price_starter_monthly",
                    period_end=start + 30 * DAY,
                    api=OLD_API,
                ),
                api=OLD_API,
            )
            add(
                "invoice.payment_succeeded",
                t,
                invoice(f"in_{k}a", sub_id=sid, cus=f"cus_{cid}", paid=True, api=OLD_API),
                api=OLD_API,
            )
            add(
                "customer.subscription.deleted",
                t + 3 * DAY,
                subscription(
                    sid,
                    customer_id=cid,
                    cus=f"cus_{cid}",
                    status="canceled",
                    price="price_starter_monthly",
                    period_end=start + 30 * DAY,
                    canceled_at=t + 3 * DAY,
                    api=OLD_API,
                ),
                api=OLD_API,
            )
            sid2 = f"sub_storm{k}b"
            add(
                "customer.subscription.created",
                t + 4 * DAY,
                subscription(
                    sid2,
                    customer_id=cid,
                    cus=f"cus_{cid}",
                    status="active",
                    price="price_scale_monthly",
                    period_end=start + 34 * DAY,
                    api=OLD_API,
                ),
                api=OLD_API,
            )
            add(
                "invoice.payment_succeeded",
                t + 4 * DAY,
                invoice(f"in_{k}b", sub_id=sid2, cus=f"cus_{cid}", paid=True, api=OLD_API),
                api=OLD_API,
            )
            expect[cid] = ("active", "scale")
        add(
            "invoice.payment_succeeded",
            t + 7 * DAY,
            invoice(f"in_{k}one", sub_id=None, cus=f"cus_{cid}", paid=True),
        )
        for day in range(0, 30, 1):
            noise(t + day * DAY + 600, cid, 2)
    core = [e for e in evts if e["type"] in HANDLED]
    noise_evts = [e for e in evts if e["type"] not in HANDLED]
    picked = core + rng.sample(noise_evts, 385 - len(core))  # 385 distinct events: the lives and their noise
    picked.sort(key=lambda e: (e["created"], e["id"]))
    return picked, expect


def test_replay_storm_ends_where_in_order_delivery_ends(stack):
    rng = random.Random(5)
    start = int(time.time()) - 31 * DAY
    unique, expect = _month_of_lives(start, rng)
    assert len(unique) == 385 and len({e["id"] for e in unique}) == 385
    deliveries = unique + [rng.choice(unique) for _ in range(115)]  # 30% of the 500 are duplicates
    rng.shuffle(deliveries)
    assert len(deliveries) == 500
    bad = set(rng.sample(range(500), 25))  # 5% bad signatures
    stale = set(rng.sample(sorted(set(range(500)) - bad), 10))  # 2% stale timestamps

    plan: list[tuple[dict, str]] = [(e, "good") for e in deliveries]
    for i in sorted(bad | stale, reverse=True):
        e = deliveries[i]
        plan[i] = (e, "bad" if i in bad else "stale")
        later = rng.randrange(i + 1, len(plan) + 1)  # Stripe retries it later, correctly signed
        plan.insert(later, (e, "good"))

    stormy = _prefixed(stack, f"storm{time.time_ns() % 10**8}-")
    calm = _prefixed(stack, f"calm{time.time_ns() % 10**8}-")
    volatile = ("billing_updated_at", "created_at", "received_at", "expires_at", "linked_at", "outcome")
    try:
        bootstrap.use(stormy)
        client = functions_framework.create_app("stripe_webhook", str(MAIN)).test_client()
        secret = stormy.settings.stripe_webhook_secret.get_secret_value()
        statuses: Counter[int] = Counter()
        for e, kind in plan:
            raw = body(e)
            if kind == "good":
                resp = client.post("/", data=raw, headers={"Stripe-Signature": sign(raw, secret)})
            else:
                before = snapshot(stormy)
                header = (
                    sign(raw, secret, int(time.time()) - 301 - rng.randrange(3600))
                    if kind == "stale"
                    else rng.choice([sign(raw, "whsec_attacker"), sign(raw + b" ", secret), "", "t=1"])
                )
                resp = client.post("/", data=raw, headers={"Stripe-Signature": header} if header else {})
                assert resp.status_code == 400, (kind, resp.get_json())
                assert snapshot(stormy) == before, "a rejected delivery changed something"
            statuses[resp.status_code] += 1
        assert statuses == Counter({200: 500, 400: 35})

        bootstrap.use(calm)
        for e in unique:  # one in-order delivery of each event
            assert (
                client.post(
                    "/", data=body(e), headers={"Stripe-Signature": sign(body(e), secret)}
                ).status_code
                == 200
            )

        stormy_state = snapshot(stormy, volatile=volatile)
        calm_state = snapshot(calm, volatile=volatile)
        assert stormy_state == calm_state
        customers = {c["customer_id"]: c for c in stormy.billing.customers()}
        for cid, (status, plan_name) in expect.items():
            assert (customers[cid]["status"], customers[cid]["plan"]) == (status, plan_name), cid
        assert sum(1 for k in stormy_state if k.startswith("stripe_events/")) == 385
    finally:
        bootstrap.use(stack.container())


# --- fuzzing ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_target(stack):
    c = _prefixed(stack, f"fuzz{time.time_ns() % 10**8}-")
    yield c, functions_framework.create_app("stripe_webhook", str(MAIN)).test_client()


@pytest.fixture()
def fuzz_installed(fuzz_target, stack):
    bootstrap.use(fuzz_target[0])
    yield fuzz_target
    bootstrap.use(stack.container())


@pytest.fixture(scope="module")
def signed_fuzz_target(stack):
    c = _prefixed(stack, f"sfuzz{time.time_ns() % 10**8}-")
    yield c, functions_framework.create_app("stripe_webhook", str(MAIN)).test_client()


@pytest.fixture()
def signed_fuzz_installed(signed_fuzz_target, stack):
    bootstrap.use(signed_fuzz_target[0])
    yield signed_fuzz_target
    bootstrap.use(stack.container())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    raw=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
    header=st.one_of(
        st.none(),
        st.text(max_size=80),
        st.builds(lambda t, v: f"t={t},v1={v}", st.integers(-(2**40), 2**40), st.text(max_size=70)),
    ),
    extra_headers=st.dictionaries(
        st.sampled_from(["Content-Type", "Content-Length-X", "X-Forwarded-For"]), st.text(max_size=20)
    ),
)
def test_fuzzed_bodies_and_headers_never_5xx_never_write(fuzz_installed, raw, header, extra_headers):
    c, client = fuzz_installed
    headers = {k: v for k, v in extra_headers.items() if v.isascii() and "\n" not in v and "\r" not in v}
    if header is not None and header.isascii() and not any(ch in header for ch in "\r\n\x00"):
        headers["Stripe-Signature"] = header
    resp = client.post("/", data=raw, headers=headers)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert snapshot(c) == {}


_fuzz_ids = itertools.count(1)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    etype=st.sampled_from([*sorted(HANDLED), "other.type"]),
    obj=st.dictionaries(
        st.sampled_from(
            [
                "id",
                "status",
                "metadata",
                "items",
                "subscription",
                "parent",
                "customer",
                "mode",
                "client_reference_id",
                "payment_status",
                "lines",
                "current_period_end",
                "plan",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_fuzzed_signed_events_never_5xx(signed_fuzz_installed, etype, obj):
    """Correctly signed events with objects of any shape: applied, ignored or refused, never a 5xx."""
    c, client = signed_fuzz_installed
    evt = event(f"evt_fz{next(_fuzz_ids)}", etype, int(time.time()), obj)
    resp = deliver(client, evt, c.settings.stripe_webhook_secret.get_secret_value())
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)


# --- limits ---------------------------------------------------------------------------------------------
def test_fifty_concurrent_requests_against_fifteen_a_day(stack, billing):
    _, clients, secret, _ = billing
    for e in active_plan_events("busy-cust"):
        assert deliver(clients["stripe_webhook"], e, secret).status_code == 200
    url = stack.functions["video_request"]
    barrier = threading.Barrier(50)

    def one(i: int) -> requests.Response:
        with requests.Session() as s:
            s.trust_env = False
            barrier.wait()
            return s.post(
                url,
                json={"customer_id": "busy-cust", "topic": f"Topic {i}", "idempotency_key": f"k{i}"},
                timeout=120,
            )

    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(one, range(50)))
    codes = Counter(r.status_code for r in replies)
    assert codes == Counter({202: 15, 429: 35}), codes
    refused = next(r for r in replies if r.status_code == 429)
    assert refused.json()["limit"] == 15 and "allows 15 videos per day" in refused.json()["error"]
    assert (
        refused.json()["resets_at"].endswith(("-08:00", "-07:00")) and int(refused.headers["Retry-After"]) > 0
    )
    # a repeat of an accepted request is the same job, not a 16th
    accepted = next(i for i, r in enumerate(replies) if r.status_code == 202)
    again = post_video(clients["video_request"], "busy-cust", f"k{accepted}", topic=f"Topic {accepted}")
    assert again.status_code == 200 and again.get_json()["job_id"] == replies[accepted].json()["job_id"]


def test_no_plan_is_402_and_writes_no_job(billing):
    _, clients, _, queue = billing
    resp = post_video(clients["video_request"], "nobody-pays", "k1")
    assert resp.status_code == 402 and resp.get_json()["field"] == "customer_id"
    assert "no active plan" in resp.get_json()["error"] and queue.tasks == []


def _sub_event(eid, etype, created, cid, **kw):
    sid = f"sub_{cid.replace('-', '')}"
    return event(
        eid,
        etype,
        created,
        subscription(sid, customer_id=cid, cus=f"cus_{sid[4:]}", price="price_starter_monthly", **kw),
    )


def test_grace_period_then_refused(billing):
    _, clients, secret, _ = billing
    now = int(time.time())
    for cid, failed_days_ago in (("grace-1", 1), ("grace-4", 4)):
        t = now - failed_days_ago * DAY
        sid = f"sub_{cid.replace('-', '')}"
        deliver(
            clients["stripe_webhook"],
            _sub_event(
                f"evt_{cid.replace('-', '')}a",
                "customer.subscription.created",
                t - 20 * DAY,
                cid,
                status="active",
                period_end=now + 10 * DAY,
            ),
            secret,
        )
        deliver(
            clients["stripe_webhook"],
            event(
                f"evt_{cid.replace('-', '')}b",
                "invoice.payment_failed",
                t,
                invoice(f"in_{cid}", sub_id=sid, cus=f"cus_{sid[4:]}", paid=False, customer_id=cid),
            ),
            secret,
        )
    ok = post_video(clients["video_request"], "grace-1", "k1")
    assert ok.status_code == 202
    late = post_video(clients["video_request"], "grace-4", "k1")
    assert late.status_code == 402
    assert (
        "past due since" in late.get_json()["error"]
        and "3-day grace period ended" in late.get_json()["error"]
    )


def test_period_end_and_immediate_cancellation_and_nothing_accepted_is_dropped(billing):
    c, clients, secret, queue = billing
    now = int(time.time())
    hook = clients["stripe_webhook"]
    # cancels at a period end still ahead: the plan holds
    deliver(
        hook,
        _sub_event(
            "evt_pe1",
            "customer.subscription.updated",
            now - 60,
            "pe-ahead",
            status="active",
            period_end=now + 5 * DAY,
            cancel_at_period_end=True,
        ),
        secret,
    )
    assert post_video(clients["video_request"], "pe-ahead", "k1").status_code == 202
    # the period end passed (the deleted event not yet here): refused
    deliver(
        hook,
        _sub_event(
            "evt_pe2",
            "customer.subscription.updated",
            now - 60,
            "pe-past",
            status="active",
            period_end=now - 10,
            cancel_at_period_end=True,
        ),
        secret,
    )
    assert post_video(clients["video_request"], "pe-past", "k1").status_code == 402
    # immediate cancellation: new requests stop at once; the accepted job stays, and its key still finds it
    deliver(
        hook,
        _sub_event(
            "evt_im1",
            "customer.subscription.created",
            now - 120,
            "imm",
            status="active",
            period_end=now + 20 * DAY,
        ),
        secret,
    )
    accepted = post_video(clients["video_request"], "imm", "before-cancel")
    assert accepted.status_code == 202
    deliver(
        hook,
        _sub_event(
            "evt_im2",
            "customer.subscription.deleted",
            now - 30,
            "imm",
            status="canceled",
            period_end=now + 20 * DAY,
            canceled_at=now - 30,
        ),
        secret,
    )
    refused = post_video(clients["video_request"], "imm", "after-cancel")
    assert refused.status_code == 402 and "was canceled" in refused.get_json()["error"]
    job_id = accepted.get_json()["job_id"]
    assert c.jobs.get(job_id)["status"] == "queued" and ("script", job_id) in {
        (t["step"], t["job_id"]) for t in queue.tasks
    }
    repeat = post_video(clients["video_request"], "imm", "before-cancel")
    assert repeat.status_code == 200 and repeat.get_json()["job_id"] == job_id


def test_channels_per_plan_through_video_request(billing):
    c, clients, secret, _ = billing
    for e in active_plan_events("chan-cust"):
        deliver(clients["stripe_webhook"], e, secret)
    for i in range(5):
        assert (
            post_video(clients["video_request"], "chan-cust", f"k{i}", channel_id=f"UC{i}").status_code == 202
        )
    assert post_video(clients["video_request"], "chan-cust", "k5", channel_id="UC2").status_code == 202
    over = post_video(clients["video_request"], "chan-cust", "k6", channel_id="UC9")
    assert (
        over.status_code == 429 and over.get_json()["field"] == "channel_id" and over.get_json()["limit"] == 5
    )
    assert c.billing.customer("chan-cust")["channels_used"] == [f"UC{i}" for i in range(5)]


# --- checkout ----------------------------------------------------------------------------------------------
def test_create_checkout_door(stack, billing):
    c, clients, _, _ = billing
    http = ScriptedStripe(
        (200, fixture("checkout_session_created.json")), *[(500, '{"error": {"type": "api_error"}}')] * 2
    )
    c.__dict__["stripe"] = StripeGateway(
        c.settings.model_copy(update={"stripe_max_attempts": 2}), http_client=http, sleep=lambda _s: None
    )
    door = clients["create_checkout"]
    ok = door.post("/", json={"plan": "starter", "period": "monthly", "email": "owner@example.com"})
    assert ok.status_code == 200 and set(ok.get_json()) == {"url", "session_id"}
    assert ok.get_json()["url"].startswith("https://checkout.stripe.com/")
    for bad, field in (
        ({"plan": "gold", "email": "a@b.co"}, "plan"),
        ({"plan": "starter", "period": "daily", "email": "a@b.co"}, "period"),
        ({"plan": "starter"}, "customer_id"),
        ({"plan": "starter", "email": "nope"}, "email"),
    ):
        resp = door.post("/", json=bad)
        assert resp.status_code == 400 and resp.get_json()["field"] == field, (bad, resp.get_json())
    down = door.post("/", json={"plan": "growth", "customer_id": "cust-down"})
    assert down.status_code == 503 and down.headers["Retry-After"] == "60"
    (action,) = c.billing.actions()
    assert (
        action["action_id"] == down.get_json()["action_id"]
        and action["operation"] == "create_checkout_session"
    )
    assert action["customer_id"] == "cust-down" and action["status"] == "pending"


# --- localstripe: entitlements by its real webhooks -------------------------------------------------------
def test_localstripe_subscription_arrives_by_webhook_and_cancellation_stops_requests(stack):
    c = stack.container()
    bootstrap.use(c)
    cid = f"ls-{time.time_ns() % 10**9}"
    now = datetime.now(UTC)
    pm = c.stripe.create_payment_method(
        {"type": "card", "card": service.TEST_CARD}, idempotency_key=f"pm-{cid}"
    )
    service.create_customer(
        cid, email=f"{cid}@example.com", payment_method=pm["id"], records=c.billing, stripe=c.stripe, now=now
    )
    sub = service.create_subscription(
        cid,
        plan="growth",
        payment_behavior="allow_incomplete",
        records=c.billing,
        stripe=c.stripe,
        settings=c.settings,
        now=now,
    )
    assert sub["status"] == "active" and sub["client_secret"]
    assert service.wait_for_plan(c.billing, cid, sub["subscription_id"], timeout_s=20)
    doc = c.billing.customer(cid)
    assert (doc["plan"], doc["videos_per_day"], doc["channels"]) == ("growth", 30, 10)
    invoices = service.list_invoices(cid, records=c.billing, stripe=c.stripe, now=now)
    assert invoices[0]["amount_usd"] == "297.00" and invoices[0]["status"] == "paid"
    out = service.cancel_subscription(cid, immediate=True, records=c.billing, stripe=c.stripe, now=now)
    assert out["status"] == "cancelled"
    deadline = time.monotonic() + 20
    while c.billing.customer(cid)["status"] != "canceled" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert c.billing.customer(cid)["status"] == "canceled"
    resp = requests.post(
        stack.functions["video_request"], json={"customer_id": cid, "topic": "After the end"}, timeout=30
    )
    assert resp.status_code == 402

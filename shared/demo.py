"""The demo: seed the seed's YouTube account pool (15 accounts: 12 active + 3 reserve, each in its own
quota pool) and one customer subscribed through Stripe, submit video requests through the real
`video_request` function URL, follow them through `job_status`, fetch the finished MP4s."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from shared.bootstrap import Container
from shared.config import STEPS
from shared.youtube.accounts import Account, Tier

DEMO_TOPICS = (
    "Why octopuses are smarter than you think",
    "The science of a perfect cup of coffee",
    "How bridges carry so much weight",
    "Five habits that make mornings easier",
    "What black holes really are",
)
DEMO_CUSTOMER = "demo-customer"
DEMO_PLAN = "scale"  # 75 videos a day: room for many demo runs in one Pacific day
# The seed's pool (section 4.1): 12 active accounts, 3 reserve; pool-NN is account NN's own OAuth client.
DEMO_ACCOUNTS: tuple[tuple[str, Tier, str], ...] = tuple(
    (f"yt-{i:02d}", "active" if i <= 12 else "reserve", f"pool-{i:02d}") for i in range(1, 16)
)


def finished(view: dict[str, Any]) -> bool:
    """Nothing more will happen to the job: it failed, or it is published and its owner was notified."""
    return view["status"] == "failed" or (
        view["status"] == "published" and view["steps"]["notify"]["status"] == "done"
    )


@dataclass
class JobReport:
    job_id: str
    status: str
    youtube_video_id: str | None
    video_uri: str | None
    local_path: str | None
    duration_s: float | None
    cost_usd: str
    account_id: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def seed(
    c: Container,
    *,
    accounts: tuple[tuple[str, Tier, str], ...] = DEMO_ACCOUNTS,
    customer_id: str = DEMO_CUSTOMER,
    plan: str = DEMO_PLAN,
    webhook_timeout_s: float = 30.0,
) -> None:
    """The account pool, each account with a token in Secret Manager (the sandbox accepts any refresh
    token and derives a channel from it) and its channel bound, and one customer subscribed to `plan`
    through Stripe (localstripe), whose entitlements arrive by webhook. Idempotent."""
    from shared.youtube.tokens import TokenRecord, oauth_client_id

    for account_id, tier, pool in accounts:
        if c.accounts.get(account_id) is not None and _has_token(c, account_id):
            continue
        token = TokenRecord(
            refresh_token=f"1//local-refresh-{account_id}",
            expiry=datetime.now(UTC) - timedelta(seconds=1),  # expired: the first use refreshes it
            client_id=oauth_client_id(c.settings, pool),
            token_uri=c.settings.youtube_token_uri,
        )
        c.tokens.save(account_id, token)
        with c.ledger.metered(pool, "channels.list"):
            channel = c.youtube.channel_id(account_id)
        c.accounts.put(Account(account_id=account_id, tier=tier, pool=pool, channel_id=channel))
    subscribe(c, customer_id, plan, timeout_s=webhook_timeout_s)


def subscribe(c: Container, customer_id: str, plan: str, *, timeout_s: float) -> None:
    """A Stripe customer with the test card and a subscription charged at once; then wait for the
    webhook (customer.subscription.created, invoice.payment_succeeded) to activate the plan."""
    from shared.billing import service

    doc = c.billing.customer(customer_id) or {}
    if doc.get("plan") == plan and doc.get("status") == "active":
        return
    now = datetime.now(UTC)
    pm = c.stripe.create_payment_method(
        {"type": "card", "card": service.TEST_CARD},
        idempotency_key=service.idempotency_key("demo-pm", customer_id, now.isoformat()),
    )
    service.create_customer(
        customer_id,
        email="demo@example.com",
        payment_method=pm["id"],
        records=c.billing,
        stripe=c.stripe,
        now=now,
    )
    sub = service.create_subscription(
        customer_id,
        plan=plan,
        payment_behavior="allow_incomplete",  # charge the test card now (localstripe's only mode)
        records=c.billing,
        stripe=c.stripe,
        settings=c.settings,
        now=now,
    )
    if not service.wait_for_plan(c.billing, customer_id, sub["subscription_id"], timeout_s=timeout_s):
        raise RuntimeError(
            f"the {plan} plan of {customer_id} did not arrive by webhook within {timeout_s:g} s: "
            "is stripe_webhook reachable from localstripe (see its log under .local/logs)?"
        )


def _has_token(c: Container, account_id: str) -> bool:
    try:
        c.secrets.get(f"{c.settings.token_secret_prefix}{account_id}")
        return True
    except KeyError:
        return False


def submit(
    function_urls: dict[str, str],
    n: int,
    *,
    customer_id: str = DEMO_CUSTOMER,
    duration_s: int = 30,
    run_id: str | None = None,
) -> list[str]:
    run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    job_ids = []
    for i in range(n):
        body = {
            "customer_id": customer_id,
            "topic": DEMO_TOPICS[i % len(DEMO_TOPICS)],
            "duration_s": duration_s,
            "idempotency_key": f"demo-{run_id}-{i}",
        }
        resp = requests.post(function_urls["video_request"], json=body, timeout=30)
        resp.raise_for_status()
        job_ids.append(resp.json()["job_id"])
    return job_ids


def follow(
    function_urls: dict[str, str],
    job_ids: list[str],
    *,
    timeout_s: float,
    on_update: Callable[[dict[str, dict[str, Any]]], None] = lambda _v: None,
    poll_s: float = 0.5,
) -> dict[str, dict[str, Any]]:
    """Poll job_status until every job is finished (or the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    views: dict[str, dict[str, Any]] = {}
    while True:
        for job_id in job_ids:
            resp = requests.get(function_urls["job_status"], params={"job_id": job_id}, timeout=30)
            resp.raise_for_status()
            views[job_id] = resp.json()
        on_update(views)
        if all(finished(v) for v in views.values()) or time.monotonic() > deadline:
            return views
        time.sleep(poll_s)


def collect(c: Container, views: dict[str, dict[str, Any]], out_dir: Path) -> list[JobReport]:
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for job_id, v in views.items():
        render = v["steps"]["render"]["outputs"]
        video_uri = render.get("video_uri")
        local = None
        if v["status"] == "published" and video_uri:
            local = str(c.blobs.download_to(video_uri, out_dir / f"{job_id}.mp4"))
        reports.append(
            JobReport(
                job_id=job_id,
                status=v["status"],
                youtube_video_id=v["youtube_video_id"],
                video_uri=video_uri,
                local_path=local,
                duration_s=render.get("duration_s"),
                cost_usd=v["total_cost_usd"],
                account_id=v["account_id"],
            )
        )
    return reports


STEP_MARKS = {"done": "✓", "running": "▶", "pending": "·", "deferred": "⏸", "failed": "✗"}


def step_marks(view: dict[str, Any]) -> str:
    """Each step's status in a few characters: `scr✓ voi▶ med·` (✓ done, ▶ running, · pending,
    ⏸ deferred, ✗ failed), short enough for one terminal line."""
    return " ".join(f"{s[:3]}{STEP_MARKS.get(view['steps'][s]['status'], '?')}" for s in STEPS)

"""What a customer may do now, from the customer document (pure).

The webhook keeps `subscriptions` (one view per Stripe subscription, see shared.billing.events) and the
summary fields derived from them on the customer document; `video_request` reads the document inside the
transaction that creates the job and asks `decide` whether, and under which limits, to accept.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.billing.events import USABLE
from shared.chain.intake import RequestRejected
from shared.config import Settings

SUMMARY_FIELDS = (
    "subscription_id",
    "plan",
    "period",
    "status",
    "videos_per_day",
    "channels",
    "current_period_end",
    "cancel_at_period_end",
    "canceled_at",
    "past_due_since",
)


class PaymentRequired(RequestRejected):
    """No plan that allows new videos (none, canceled, unpaid, past the grace period): 402."""

    def __init__(self, message: str):
        super().__init__("customer_id", message, status=402)


class LimitReached(RequestRejected):
    """Over a plan limit: 429 with the limit and when it resets."""

    def __init__(self, field: str, message: str, *, limit: int, resets_at: datetime | None, now: datetime):
        retry_after = max(1, int((resets_at - now).total_seconds())) if resets_at else None
        super().__init__(
            field,
            message,
            status=429,
            details={"limit": limit, "resets_at": resets_at.isoformat() if resets_at else None},
            headers={"Retry-After": str(retry_after)} if retry_after else {},
        )


@dataclass(frozen=True)
class Admission:
    """A request may go ahead under these limits (the daily count is checked where the slot is claimed)."""

    customer_id: str
    plan: str
    videos_per_day: int
    day: str  # the billing day, YYYY-MM-DD in the billing time zone
    resets_at: datetime
    new_channel: str | None  # a channel this request adds to the customer's channels


def billing_day(now: datetime, settings: Settings) -> tuple[str, datetime]:
    """The day a daily limit counts in (Pacific time by default) and the moment it resets."""
    tz = ZoneInfo(settings.billing_timezone)
    local = now.astimezone(tz)
    next_day: date = local.date() + timedelta(days=1)
    resets_at = datetime(next_day.year, next_day.month, next_day.day, tzinfo=tz)
    return local.date().isoformat(), resets_at


def _ts(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def summary(subscriptions: dict[str, dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """The customer's effective subscription: a usable one before others, then the bigger plan, then the
    newest. Dates become datetimes (Firestore timestamps)."""
    if not subscriptions:
        return {f: None for f in SUMMARY_FIELDS} | {"videos_per_day": 0, "channels": 0, "status": "none"}
    ranks = {name: i for i, name in enumerate(settings.plans)}
    best = max(
        subscriptions.values(),
        key=lambda v: (
            v["status"] in USABLE,
            ranks.get(v["plan"] or "", -1),
            v["as_of"],
            v["subscription_id"],
        ),
    )
    return {
        "subscription_id": best["subscription_id"],
        "plan": best["plan"],
        "period": best["period"],
        "status": best["status"],
        "videos_per_day": best["videos_per_day"],
        "channels": best["channels"],
        "current_period_end": _ts(best["current_period_end"]),
        "cancel_at_period_end": best["cancel_at_period_end"],
        "canceled_at": _ts(best["canceled_at"]),
        "past_due_since": _ts(best["past_due_since"]),
    }


def with_subscription(
    customer: dict[str, Any] | None,
    customer_id: str,
    view: dict[str, Any],
    settings: Settings,
    *,
    stripe_customer_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The customer document with one subscription's view replaced and the summary recomputed."""
    new = copy.deepcopy(customer) if customer else {"customer_id": customer_id, "created_at": now}
    subs = dict(new.get("subscriptions") or {})
    subs[view["subscription_id"]] = view
    new["subscriptions"] = subs
    new.update(summary(subs, settings))
    if stripe_customer_id and not new.get("stripe_customer_id"):
        new["stripe_customer_id"] = stripe_customer_id
    new.setdefault("channels_used", [])
    new["billing_updated_at"] = now
    return new


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else "an unknown time"


def decide(
    customer: dict[str, Any] | None,
    customer_id: str,
    *,
    channel_id: str | None,
    now: datetime,
    settings: Settings,
) -> Admission:
    """Accept (with the limits that apply) or raise PaymentRequired / LimitReached."""
    if not customer or not customer.get("subscription_id"):
        raise PaymentRequired(
            f"customer {customer_id} has no active plan: subscribe to a plan (create_checkout) first"
        )
    status, sub_id, plan = customer.get("status"), customer["subscription_id"], customer.get("plan")
    if status in ("canceled", "incomplete_expired"):
        raise PaymentRequired(
            f"subscription {sub_id} was canceled at {_when(customer.get('canceled_at'))}: "
            "no new videos until the customer subscribes again"
        )
    if status == "incomplete":
        raise PaymentRequired(f"the first payment of subscription {sub_id} is not complete yet")
    if status not in USABLE:
        raise PaymentRequired(
            f"subscription {sub_id} is {status}: update the payment method to make new videos"
        )
    period_end = customer.get("current_period_end")
    if customer.get("cancel_at_period_end") and isinstance(period_end, datetime) and now >= period_end:
        raise PaymentRequired(
            f"subscription {sub_id} was set to cancel at its period end, {_when(period_end)}, "
            "which has passed"
        )
    if status == "past_due":
        since = customer.get("past_due_since") or now
        grace_end = since + timedelta(days=settings.billing_grace_period_days)
        if now >= grace_end:
            raise PaymentRequired(
                f"payment for subscription {sub_id} has been past due since {_when(since)}; the "
                f"{settings.billing_grace_period_days:g}-day grace period ended at {_when(grace_end)}: "
                "update the payment method to make new videos"
            )
    if not plan or customer.get("videos_per_day", 0) < 1:
        raise PaymentRequired(f"subscription {sub_id} is not for one of our plans")

    day, resets_at = billing_day(now, settings)
    new_channel = None
    if channel_id:
        used: list[str] = list(customer.get("channels_used") or [])
        limit = int(customer.get("channels", 0))
        if channel_id in used[:limit]:
            pass
        elif channel_id in used or len(used) >= limit:
            raise LimitReached(
                "channel_id",
                f"plan {plan} allows {limit} channels and {len(used)} are in use; channel {channel_id} "
                "would be one more. The channel limit does not reset daily: upgrade the plan",
                limit=limit,
                resets_at=None,
                now=now,
            )
        else:
            new_channel = channel_id
    return Admission(customer_id, plan, int(customer["videos_per_day"]), day, resets_at, new_channel)


def daily_limit_reached(admission: Admission, *, now: datetime, settings: Settings) -> LimitReached:
    limit = admission.videos_per_day
    return LimitReached(
        "customer_id",
        f"plan {admission.plan} allows {limit} videos per day; all {limit} of {admission.day} "
        f"({settings.billing_timezone}) are used. The count resets at {admission.resets_at.isoformat()}",
        limit=limit,
        resets_at=admission.resets_at,
        now=now,
    )

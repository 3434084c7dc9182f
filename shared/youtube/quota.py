"""YouTube quota as data: profiles (what each call costs, each bucket's limits and category shares) and the
rules that turn a profile into a capacity. Plain functions, no I/O; the Firestore ledger applies them.

A **quota pool** is one Google Cloud project (one OAuth client): every account authorised through that
client draws from the same quota. A pool's quota is split into **buckets** (the seed profile has one,
`units`; YouTube's newer scheme has separate call-count buckets for videos.insert and search.list), and
each bucket into **categories** (uploads, metadata, analytics, emergency) by share of its daily limit.

How the limits bind (`Settings.quota_binding`, documented in the README):

* ``categories`` (default): every rule of the seed holds at once. A non-emergency category never spends
  more than ``share x daily_limit`` of its bucket; all non-emergency spending together never passes the
  bucket's safe limit; the emergency share is spent only by calls flagged as a crisis, and then only up
  to the daily limit. Seed profile: 7,000 upload units allow 4 videos (4 x 1,700 = 6,800) per pool.
* ``safe_limit``: the category shares are not budgets; non-emergency calls share the safe limit.
  Seed profile: 9,000 units allow 5 videos of 1,700 units per pool.

A published video costs a fixed set of calls (`video_methods`: insert, thumbnail, metadata update), so
the number of videos a pool can carry per day follows from the rules (`videos_per_pool`). That share of
the quota is set aside for videos — counted with slot documents, one per video — and every other call
(analytics, channel look-ups, the 1-unit charge of a failed call) spends what the rules leave over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Binding = Literal["categories", "safe_limit"]
Health = Literal["healthy", "warning", "critical"]
EMERGENCY = "emergency"


class QuotaBucket(BaseModel):
    """One daily limit of a pool, in units (or calls, for call-count buckets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_limit: int = Field(gt=0)
    safe_limit: int = Field(gt=0)
    # category -> share of daily_limit; shares sum to at most 1.
    categories: dict[str, float]
    # Health of the pool by units used: healthy < warning_at <= warning < critical_at <= critical.
    warning_at: int | None = None
    critical_at: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QuotaBucket:
        if self.safe_limit > self.daily_limit:
            raise ValueError("safe_limit must not exceed daily_limit")
        if any(s < 0 for s in self.categories.values()) or sum(self.categories.values()) > 1 + 1e-9:
            raise ValueError("category shares must be >= 0 and sum to at most 1")
        return self

    def budget(self, category: str) -> int:
        """What a category may spend per day: its share of the daily limit (whole units)."""
        return int(self.categories.get(category, 0.0) * self.daily_limit + 1e-9)

    def health(self, used: int) -> Health:
        if self.critical_at is not None and used >= self.critical_at:
            return "critical"
        if self.warning_at is not None and used >= self.warning_at:
            return "warning"
        return "healthy"


class MethodCost(BaseModel):
    """What one call of an API method costs, from which bucket, under which category by default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    cost: int = Field(ge=1)
    category: str


class QuotaProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    buckets: dict[str, QuotaBucket]
    methods: dict[str, MethodCost]
    # A call that fails still costs this much (YouTube: every request costs at least 1 unit).
    failed_call_cost: int = Field(default=1, ge=1)
    # The calls one published video makes: its upload, then the publish step's thumbnail and metadata.
    # All of them are spent from `video_category` (a video is one piece of work: the seed's 1,700 units
    # per video come out of its upload share); the metadata category is left for later edits and lookups.
    video_methods: tuple[str, ...] = ("videos.insert", "thumbnails.set", "videos.update")
    video_category: str = "uploads"
    # The bucket whose remaining quota feeds the rotation score (the seed divides by its 10,000 units).
    score_bucket: str = "units"

    @model_validator(mode="after")
    def _consistent(self) -> QuotaProfile:
        for name, method in self.methods.items():
            bucket = self.buckets.get(method.bucket)
            if bucket is None:
                raise ValueError(f"method {name} draws from unknown bucket {method.bucket}")
            if method.category not in bucket.categories:
                raise ValueError(f"method {name}: bucket {method.bucket} has no category {method.category}")
        missing = [m for m in self.video_methods if m not in self.methods]
        if missing:
            raise ValueError(f"video_methods {missing} have no cost")
        for m in self.video_methods:
            if self.video_category not in self.buckets[self.methods[m].bucket].categories:
                raise ValueError(f"bucket {self.methods[m].bucket} has no category {self.video_category}")
        if self.score_bucket not in self.buckets:
            raise ValueError(f"score_bucket {self.score_bucket} is not a bucket")
        return self

    def cost(self, method: str) -> MethodCost:
        try:
            return self.methods[method]
        except KeyError:
            raise KeyError(f"the quota profile has no cost for {method}") from None


# --- the two profiles of the specification ----------------------------------------------------------------
_SEED_CATEGORIES = {"uploads": 0.70, "metadata": 0.15, "analytics": 0.10, EMERGENCY: 0.05}

SEED_PROFILE = QuotaProfile(
    buckets={
        "units": QuotaBucket(
            daily_limit=10_000,
            safe_limit=9_000,
            categories=_SEED_CATEGORIES,
            warning_at=7_000,
            critical_at=9_000,
        )
    },
    methods={
        "videos.insert": MethodCost(bucket="units", cost=1_600, category="uploads"),
        "thumbnails.set": MethodCost(bucket="units", cost=50, category="metadata"),
        "videos.update": MethodCost(bucket="units", cost=50, category="metadata"),
        "videos.list": MethodCost(bucket="units", cost=1, category="metadata"),
        "channels.list": MethodCost(bucket="units", cost=1, category="metadata"),
        "search.list": MethodCost(bucket="units", cost=100, category="metadata"),
        "youtubeAnalytics.reports.query": MethodCost(bucket="units", cost=1, category="analytics"),
    },
)

# YouTube's newer scheme: videos.insert and search.list counted in calls per day (100 each), everything
# else in a 10,000-unit bucket. Same category idea per bucket; nothing in the code knows these names.
BUCKETED_PROFILE = QuotaProfile(
    buckets={
        "videos.insert": QuotaBucket(
            daily_limit=100,
            safe_limit=90,
            categories={"uploads": 0.95, EMERGENCY: 0.05},
            warning_at=70,
            critical_at=90,
        ),
        "search.list": QuotaBucket(
            daily_limit=100, safe_limit=90, categories={"metadata": 0.95, EMERGENCY: 0.05}
        ),
        "units": QuotaBucket(
            daily_limit=10_000,
            safe_limit=9_000,
            categories={"uploads": 0.50, "metadata": 0.25, "analytics": 0.20, EMERGENCY: 0.05},
            warning_at=7_000,
            critical_at=9_000,
        ),
    },
    methods={
        "videos.insert": MethodCost(bucket="videos.insert", cost=1, category="uploads"),
        "search.list": MethodCost(bucket="search.list", cost=1, category="metadata"),
        "thumbnails.set": MethodCost(bucket="units", cost=50, category="metadata"),
        "videos.update": MethodCost(bucket="units", cost=50, category="metadata"),
        "videos.list": MethodCost(bucket="units", cost=1, category="metadata"),
        "channels.list": MethodCost(bucket="units", cost=1, category="metadata"),
        "youtubeAnalytics.reports.query": MethodCost(bucket="units", cost=1, category="analytics"),
    },
    score_bucket="videos.insert",
)

DEFAULT_PROFILES: dict[str, QuotaProfile] = {"seed": SEED_PROFILE, "bucketed": BUCKETED_PROFILE}

# (bucket, category) -> units
Spend = dict[tuple[str, str], int]


# --- the rules ------------------------------------------------------------------------------------------
def video_need(profile: QuotaProfile) -> Spend:
    """What one published video spends, per (bucket, category)."""
    need: Spend = {}
    for method in profile.video_methods:
        c = profile.cost(method)
        key = (c.bucket, profile.video_category)
        need[key] = need.get(key, 0) + c.cost
    return need


def video_line(profile: QuotaProfile, method: str) -> tuple[str, str, int]:
    """(bucket, category, units) a video's call of `method` is reserved under."""
    c = profile.cost(method)
    return c.bucket, profile.video_category, c.cost


def _bucket_totals(spend: Mapping[tuple[str, str], int], *, emergency: bool = False) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (bucket, category), units in spend.items():
        if emergency or category != EMERGENCY:
            totals[bucket] = totals.get(bucket, 0) + units
    return totals


def videos_per_pool(profile: QuotaProfile, binding: Binding) -> int:
    """How many videos one pool can publish per day under the rules (account caps not counted)."""
    need = video_need(profile)
    limits: list[int] = []
    if binding == "categories":
        limits += [profile.buckets[b].budget(c) // units for (b, c), units in need.items()]
    limits += [profile.buckets[b].safe_limit // units for b, units in _bucket_totals(need).items()]
    return max(0, min(limits))


def video_reserve(profile: QuotaProfile, binding: Binding) -> Spend:
    """The quota set aside for the pool's videos: videos_per_pool x the need of one video."""
    n = videos_per_pool(profile, binding)
    return {key: n * units for key, units in video_need(profile).items()}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def may_spend(
    profile: QuotaProfile,
    binding: Binding,
    spent: Mapping[tuple[str, str], int],
    bucket: str,
    category: str,
    units: int,
) -> Verdict:
    """May a call outside the video reserve spend `units` of (bucket, category), given what such calls
    have `spent` (used + reserved) today? The video reserve is counted as spent in full."""
    b = profile.buckets[bucket]
    reserve = video_reserve(profile, binding)
    combined = dict(spent)
    for key, value in reserve.items():
        combined[key] = combined.get(key, 0) + value
    if category == EMERGENCY:
        total = sum(v for (bk, _), v in combined.items() if bk == bucket)
        if total + units > b.daily_limit:
            return Verdict(False, f"{bucket}: the daily limit of {b.daily_limit} would be passed")
        return Verdict(True)
    if category not in b.categories:
        return Verdict(False, f"{bucket} has no category {category}")
    if binding == "categories":
        in_category = combined.get((bucket, category), 0)
        if in_category + units > b.budget(category):
            return Verdict(False, f"{bucket}/{category}: its budget of {b.budget(category)} would be passed")
    normal = sum(v for (bk, c), v in combined.items() if bk == bucket and c != EMERGENCY)
    if normal + units > b.safe_limit:
        return Verdict(False, f"{bucket}: the safe limit of {b.safe_limit} would be passed")
    return Verdict(True)


def within_limits(profile: QuotaProfile, binding: Binding, spent: Mapping[tuple[str, str], int]) -> list[str]:
    """Every rule a pool-day's total spending (videos included) breaks; [] when it keeps them all."""
    problems = []
    for name, b in profile.buckets.items():
        total = sum(v for (bk, _), v in spent.items() if bk == name)
        normal = sum(v for (bk, c), v in spent.items() if bk == name and c != EMERGENCY)
        if total > b.daily_limit:
            problems.append(f"{name}: {total} > daily limit {b.daily_limit}")
        if normal > b.safe_limit:
            problems.append(f"{name}: {normal} > safe limit {b.safe_limit}")
        if binding == "categories":
            for category in b.categories:
                used = spent.get((name, category), 0)
                if category != EMERGENCY and used > b.budget(category):
                    problems.append(f"{name}/{category}: {used} > budget {b.budget(category)}")
    return problems


def pool_capacity(profile: QuotaProfile, binding: Binding, account_caps: Iterable[int]) -> int:
    """Videos per day of one pool: its rules' number, or its accounts' caps if those are fewer."""
    return min(sum(account_caps), videos_per_pool(profile, binding))


def as_youtube_limits(profile: QuotaProfile) -> dict[str, object]:
    """The profile as YouTube itself enforces it (daily limits and costs; no safe limits or categories):
    the shape the YouTube sandbox's `POST /_control/quota` takes."""
    return {
        "buckets": {name: b.daily_limit for name, b in profile.buckets.items()},
        "costs": {name: [m.bucket, m.cost] for name, m in profile.methods.items()},
        "failed_call_cost": profile.failed_call_cost,
    }

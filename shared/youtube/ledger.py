"""The quota ledger on Firestore, per quota pool and Pacific day: reserve before a call, settle after it,
release when it fails — safe under any number of concurrent instances.

Two kinds of spending, each kept without a hot document:

* **Videos** (upload + thumbnail + metadata, a fixed cost): counted with slot claims. A video takes a
  numbered slot of its account (`account_slots/{account}_{day}_u03`, as many as the account's daily
  cap) and one of its pool (`pool_slots/{pool}_{day}_v017`, as many as the pool's rules allow a day,
  `quota.videos_per_pool`), each by create-if-absent in random order: the first create wins, the rest
  get AlreadyExists and try another. Exact, and no two reservations write the same document. The pool
  slot carries the video's lines (one per call, settled with what the call really cost).
* **Everything else** (analytics, channel look-ups, the 1-unit charge of a failed call): one small
  document per pool and day (`quota_ledgers/{pool}_{day}`), changed by optimistic transactions
  (shared.gcp.optimistic) within what the rules leave beside the videos' share (`quota.may_spend`).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.firestore_v1 import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from shared.config import Settings
from shared.gcp.optimistic import Backoff, ContentionStats, optimistic_update
from shared.youtube import quota
from shared.youtube.accounts import Account, day_end, pacific_day, utcnow

SLOT_TTL = timedelta(days=3)  # slot documents are kept a while after their day for the record


def _line_key(method: str) -> str:
    return method.replace(".", "_")


class QuotaUnavailable(Exception):
    """The rules do not allow this call in this pool today."""

    def __init__(self, pool: str, reason: str) -> None:
        super().__init__(f"pool {pool}: {reason}")
        self.pool = pool
        self.reason = reason


@dataclass(frozen=True)
class VideoReservation:
    """A video's place in the ledger: one account slot and one pool slot, held by a job."""

    pool: str
    day: str
    account_id: str
    holder: str
    pool_slot: str
    account_slot: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoReservation:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Refusal:
    reason: str  # account_cap | pool_full


@dataclass(frozen=True)
class Hold:
    """Units held for one call outside the videos' share, until settled or released."""

    pool: str
    day: str
    bucket: str
    category: str
    units: int
    method: str


@dataclass
class PoolDay:
    """What a pool has spent and held today, as the rotation and `accounts list` see it."""

    pool: str
    profile: str
    videos: int = 0
    videos_by_account: dict[str, int] = field(default_factory=dict)
    spent: dict[tuple[str, str], int] = field(default_factory=dict)  # videos' lines + the rest
    exhausted: bool = False

    def used(self, bucket: str) -> int:
        return sum(v for (b, _), v in self.spent.items() if b == bucket)


@dataclass
class LedgerView:
    day: str
    pools: dict[str, PoolDay]

    def pool(self, name: str, profile: str) -> PoolDay:
        return self.pools.get(name) or PoolDay(pool=name, profile=profile)


class QuotaLedger:
    def __init__(
        self,
        client: Any,
        settings: Settings,
        *,
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        stats: ContentionStats | None = None,
    ) -> None:
        self._db = client
        self.settings = settings
        self._now = now
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._full: dict[str, float] = {}  # slot prefix -> when it was found full (monotonic)
        self.stats = stats or ContentionStats()
        prefix = settings.collection_prefix
        self._ledgers = client.collection(f"{prefix}quota_ledgers")
        self._pool_slots = client.collection(f"{prefix}pool_slots")
        self._account_slots = client.collection(f"{prefix}account_slots")
        self._backoff = Backoff(
            settings.ledger_max_attempts, settings.ledger_backoff_base_s, settings.ledger_backoff_max_s
        )

    # --- profiles and rules ----------------------------------------------------------------------------
    def profile_name(self, pool: str) -> str:
        return self.settings.quota_pool_profiles.get(pool, self.settings.quota_default_profile)

    def profile(self, pool: str) -> quota.QuotaProfile:
        return self.settings.quota_profiles[self.profile_name(pool)]

    def videos_per_pool(self, pool: str) -> int:
        return quota.videos_per_pool(self.profile(pool), self.settings.quota_binding)

    def today(self) -> str:
        return pacific_day(self._now())

    # --- videos: slot claims ---------------------------------------------------------------------------
    def reserve_video(self, account: Account, holder: str) -> VideoReservation | Refusal:
        """Claim a slot of the account and one of its pool for a video; Refusal when either is full."""
        day = self.today()
        profile = self.profile(account.pool)
        now = self._now()
        expires = day_end(day) + SLOT_TTL
        pool_prefix = f"{account.pool}_{day}_v"
        account_prefix = f"{account.account_id}_{day}_u"
        cap, per_pool = account.cap(self.settings), self.videos_per_pool(account.pool)
        if per_pool <= 0 or self._known_full(pool_prefix):
            return Refusal("pool_full")
        if cap <= 0 or self._known_full(account_prefix):
            return Refusal("account_cap")
        account_doc = {"account_id": account.account_id, "day": day, "holder": holder, "created_at": now}
        pool_doc = {
            "pool": account.pool,
            "day": day,
            "account_id": account.account_id,
            "holder": holder,
            "profile": self.profile_name(account.pool),
            "lines": _video_lines(profile),
            "created_at": now,
        }
        # Fast path: one random slot of each, created together in one atomic batch (one round trip).
        with self._rng_lock:
            a_slot = f"{account_prefix}{self._rng.randrange(cap):02d}"
            p_slot = f"{pool_prefix}{self._rng.randrange(per_pool):04d}"
        batch = self._db.batch()
        batch.create(self._account_slots.document(a_slot), {**account_doc, "expires_at": expires})
        batch.create(
            self._pool_slots.document(p_slot), {**pool_doc, "account_slot": a_slot, "expires_at": expires}
        )
        try:
            batch.commit()
            return VideoReservation(account.pool, day, account.account_id, holder, p_slot, a_slot)
        except gexc.AlreadyExists:  # one of the two was taken: claim them one by one
            self.stats.add(conflicts=1)
        account_slot = self._claim(self._account_slots, account_prefix, cap, 2, account_doc, expires)
        if account_slot is None:
            return Refusal("account_cap")
        pool_slot = self._claim(
            self._pool_slots, pool_prefix, per_pool, 4, {**pool_doc, "account_slot": account_slot}, expires
        )
        if pool_slot is None:
            self._account_slots.document(account_slot).delete()
            return Refusal("pool_full")
        return VideoReservation(account.pool, day, account.account_id, holder, pool_slot, account_slot)

    def _known_full(self, prefix: str) -> bool:
        with self._rng_lock:
            seen = self._full.get(prefix)
        return seen is not None and time.monotonic() - seen < self.settings.rotation_snapshot_ttl_s

    def forget_full(self) -> None:
        """Slots may have been given back since: check every account and pool afresh."""
        with self._rng_lock:
            self._full.clear()

    def _claim(
        self, col: Any, prefix: str, n: int, width: int, doc: dict[str, Any], expires: datetime
    ) -> str | None:
        """Create one absent document `prefix + slot number` (0 <= number < n), numbers in random order:
        two blind tries, then the taken ones are listed (one range query on the prefix) and only free
        ones are tried. A prefix found full is remembered for a moment (`rotation_snapshot_ttl_s`)."""
        if n <= 0 or self._known_full(prefix):
            return None
        with self._rng_lock:
            blind = self._rng.sample(range(n), min(2, n))
        for k in blind:
            if self._create(col, f"{prefix}{k:0{width}d}", doc, expires):
                return f"{prefix}{k:0{width}d}"
        taken = {
            snap.id
            for snap in col.where(filter=FieldFilter(FieldPath.document_id(), ">=", col.document(prefix)))
            .where(filter=FieldFilter(FieldPath.document_id(), "<", col.document(prefix + "\uf8ff")))
            .select([])
            .stream()
        }
        free = [i for i in (f"{prefix}{k:0{width}d}" for k in range(n)) if i not in taken]
        with self._rng_lock:
            self._rng.shuffle(free)
        for slot_id in free:
            if self._create(col, slot_id, doc, expires):
                return slot_id
        with self._rng_lock:
            self._full[prefix] = time.monotonic()
        return None

    def _create(self, col: Any, slot_id: str, doc: dict[str, Any], expires: datetime) -> bool:
        try:
            col.document(slot_id).create({**doc, "expires_at": expires})
            return True
        except gexc.AlreadyExists:
            self.stats.add(conflicts=1)
            return False

    def find_video_reservation(self, holder: str) -> VideoReservation | None:
        """A reservation `holder` made today and lost track of (a crash before it was saved); slots
        it claimed without completing the pair are released."""
        day = self.today()
        pool_docs = [s for s in self._pool_slots.where(filter=FieldFilter("holder", "==", holder)).stream()]
        found = None
        for snap in pool_docs:
            d = snap.to_dict()
            if d["day"] == day and found is None:
                found = VideoReservation(d["pool"], day, d["account_id"], holder, snap.id, d["account_slot"])
        kept = {found.account_slot} if found else set()
        for snap in self._account_slots.where(filter=FieldFilter("holder", "==", holder)).stream():
            if snap.to_dict()["day"] == day and snap.id not in kept:
                snap.reference.delete()
        return found

    def settle_video(self, res: VideoReservation, method: str, *, ok: bool, new_call: bool = False) -> None:
        """Record what a video's call of `method` cost (its full cost, or the failed-call cost). A line
        already settled stays as it is, unless this was a `new_call` (the call made once more, e.g. by a
        redelivered step): that one is charged beside the videos' share."""
        profile = self.profile(res.pool)
        cost = profile.cost(method).cost if ok else profile.failed_call_cost
        ref = self._pool_slots.document(res.pool_slot)
        snap = ref.get()
        doc = snap.to_dict() if snap.exists else {}
        line = doc.get("lines", {}).get(_line_key(method)) if doc.get("holder") == res.holder else None
        if line is not None and line.get("actual") is None:
            ref.update({f"lines.{_line_key(method)}.actual": min(cost, line["units"])})
            return
        if line is None or new_call:
            bucket, category, _ = quota.video_line(profile, method)
            self.charge_spent(res.pool, bucket, category, cost, method=method)

    def release_video(self, res: VideoReservation, *, failed_call: str | None = None) -> None:
        """Give the video's slots back (its upload did not happen); a call that was made and failed is
        still charged its failed-call cost. Only slots this holder still holds are deleted."""
        for ref in (self._pool_slots.document(res.pool_slot), self._account_slots.document(res.account_slot)):
            self._delete_if_held(ref, res.holder)
        with self._rng_lock:
            self._full.pop(f"{res.pool}_{res.day}_v", None)
            self._full.pop(f"{res.account_id}_{res.day}_u", None)
        if failed_call is not None:
            profile = self.profile(res.pool)
            bucket, category, _ = quota.video_line(profile, failed_call)
            self.charge_spent(res.pool, bucket, category, profile.failed_call_cost, method=failed_call)

    def _delete_if_held(self, ref: Any, holder: str) -> None:
        for _ in range(self._backoff.attempts):
            snap = ref.get()
            if not snap.exists or snap.to_dict().get("holder") != holder:
                return
            try:
                ref.delete(option=self._db.write_option(last_update_time=snap.update_time))
                return
            except gexc.FailedPrecondition:  # changed since read (a line settled): read again
                continue

    # --- everything else: optimistic transactions on the pool-day document -------------------------------
    def _ledger_ref(self, pool: str, day: str) -> Any:
        return self._ledgers.document(f"{pool}_{day}")

    def _fresh(self, pool: str, day: str) -> dict[str, Any]:
        return {
            "pool": pool,
            "day": day,
            "profile": self.profile_name(pool),
            "binding": self.settings.quota_binding,
            "spent": {},
            "held": {},
            "calls": 0,
            "failed_calls": 0,
            "over_budget": 0,
            "exhausted": False,
            "exhausted_reason": None,
            "updated_at": self._now(),
            "expires_at": None,
        }

    def _update(self, pool: str, day: str, change: Callable[[dict[str, Any]], Any]) -> Any:
        def mutate(doc: dict[str, Any] | None) -> tuple[Any, dict | None, list]:
            current = doc or self._fresh(pool, day)
            result = change(current)
            if result is _NO_WRITE:
                return None, None, []
            current["updated_at"] = self._now()
            return result, current, []

        return optimistic_update(
            self._db,
            self._ledger_ref(pool, day),
            mutate,
            backoff=self._backoff,
            stats=self.stats,
            rng=self._rng,
        )

    def reserve(
        self, pool: str, method: str, *, category: str | None = None, emergency: bool = False
    ) -> Hold:
        """Hold a call's full cost; QuotaUnavailable when the rules do not allow it today."""
        profile = self.profile(pool)
        cost = profile.cost(method)
        category = quota.EMERGENCY if emergency else (category or cost.category)
        if category == quota.EMERGENCY and not emergency:
            raise QuotaUnavailable(pool, "the emergency share is spent only in a crisis (emergency=True)")
        day = self.today()
        hold = Hold(pool, day, cost.bucket, category, cost.cost, method)

        def change(doc: dict[str, Any]) -> Any:
            if doc["exhausted"] and not emergency:
                raise QuotaUnavailable(pool, f"exhausted for {day}: {doc['exhausted_reason']}")
            spent = _combined(doc)
            verdict = quota.may_spend(
                profile, self.settings.quota_binding, spent, hold.bucket, hold.category, hold.units
            )
            if not verdict.allowed:
                raise QuotaUnavailable(pool, verdict.reason)
            _add(doc["held"], hold.bucket, hold.category, hold.units)
            return hold

        return self._update(pool, day, change)

    def settle(self, hold: Hold, *, ok: bool) -> None:
        """The call was made: its hold becomes what it cost (full cost, or the failed-call cost)."""
        profile = self.profile(hold.pool)
        actual = hold.units if ok else min(hold.units, profile.failed_call_cost)

        def change(doc: dict[str, Any]) -> Any:
            _add(doc["held"], hold.bucket, hold.category, -hold.units)
            _add(doc["spent"], hold.bucket, hold.category, actual)
            doc["calls"] += 1
            doc["failed_calls"] += int(not ok)
            return None

        self._update(hold.pool, hold.day, change)

    def release(self, hold: Hold) -> None:
        """The call was not made: its hold is given back."""

        def change(doc: dict[str, Any]) -> Any:
            _add(doc["held"], hold.bucket, hold.category, -hold.units)
            return None

        self._update(hold.pool, hold.day, change)

    @contextlib.contextmanager
    def metered(
        self, pool: str, method: str, *, category: str | None = None, emergency: bool = False
    ) -> Iterator[Hold]:
        """Reserve, make the call, settle: a call that raises is charged the failed-call cost."""
        hold = self.reserve(pool, method, category=category, emergency=emergency)
        try:
            yield hold
        except BaseException:
            self.settle(hold, ok=False)
            raise
        self.settle(hold, ok=True)

    def charge_spent(self, pool: str, bucket: str, category: str, units: int, *, method: str) -> None:
        """Record a call already made (a failed upload's 1 unit, a repeated call): it happened, so it is
        written even past the rules, and counted in `over_budget` then."""
        profile = self.profile(pool)
        day = self.today()

        def change(doc: dict[str, Any]) -> Any:
            verdict = quota.may_spend(
                profile, self.settings.quota_binding, _combined(doc), bucket, category, units
            )
            if not verdict.allowed:
                doc["over_budget"] += units
            _add(doc["spent"], bucket, category, units)
            doc["calls"] += 1
            doc["failed_calls"] += int(units < profile.cost(method).cost)
            return None

        self._update(pool, day, change)

    def mark_exhausted(self, pool: str, reason: str) -> None:
        """YouTube said quotaExceeded: nothing more goes to this pool until the Pacific day ends."""
        day = self.today()

        def change(doc: dict[str, Any]) -> Any:
            if doc["exhausted"]:
                return _NO_WRITE
            doc.update(exhausted=True, exhausted_reason=reason[:200])
            return None

        self._update(pool, day, change)

    # --- reading ---------------------------------------------------------------------------------------
    def view(self, day: str | None = None) -> LedgerView:
        """Every pool's spending on `day` (default today): two queries, whatever the pool size."""
        day = day or self.today()
        pools: dict[str, PoolDay] = {}

        def pool_day(name: str, profile: str) -> PoolDay:
            return pools.setdefault(name, PoolDay(pool=name, profile=profile))

        for snap in self._pool_slots.where(filter=FieldFilter("day", "==", day)).stream():
            d = snap.to_dict()
            p = pool_day(d["pool"], d.get("profile") or self.profile_name(d["pool"]))
            p.videos += 1
            p.videos_by_account[d["account_id"]] = p.videos_by_account.get(d["account_id"], 0) + 1
            for line in d["lines"].values():
                units = line["units"] if line.get("actual") is None else line["actual"]
                key = (line["bucket"], line["category"])
                p.spent[key] = p.spent.get(key, 0) + units
        for snap in self._ledgers.where(filter=FieldFilter("day", "==", day)).stream():
            d = snap.to_dict()
            p = pool_day(d["pool"], d.get("profile") or self.profile_name(d["pool"]))
            p.exhausted = bool(d.get("exhausted"))
            for key, units in _combined(d).items():
                p.spent[key] = p.spent.get(key, 0) + units
        return LedgerView(day, pools)


_NO_WRITE = object()


def _video_lines(profile: quota.QuotaProfile) -> dict[str, dict[str, Any]]:
    """A video's calls as lines of its pool slot, each settled with what the call really cost."""
    lines = {}
    for method in profile.video_methods:
        bucket, category, units = quota.video_line(profile, method)
        lines[_line_key(method)] = {
            "method": method,
            "bucket": bucket,
            "category": category,
            "units": units,
            "actual": None,
        }
    return lines


def _add(tree: dict[str, dict[str, int]], bucket: str, category: str, units: int) -> None:
    per_bucket = tree.setdefault(bucket, {})
    per_bucket[category] = per_bucket.get(category, 0) + units


def _combined(doc: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Spent plus held, per (bucket, category)."""
    out: dict[tuple[str, str], int] = {}
    for part in ("spent", "held"):
        for bucket, categories in (doc.get(part) or {}).items():
            for category, units in categories.items():
                out[(bucket, category)] = out.get((bucket, category), 0) + units
    return out

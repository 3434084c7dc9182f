"""Account rotation: the seed's `calculate_account_score`, and the order in which an upload tries accounts.

Order (AccountRotation.order): three rounds — active accounts scoring at least the health threshold,
then active accounts below it, then reserve accounts (the seed activates the reserve fleet "when active
accounts fail"; its x0.1 penalty alone would let a reserve account outrank a badly damaged active one).
Within a round the higher score goes first; equal scores go round-robin (the account after the one
picked last). Concurrent pickers do not all take the same best account: the first account of the
first round is drawn at random among its top `spread` candidates, the rest follow in order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.config import Settings
from shared.youtube.accounts import Account
from shared.youtube.ledger import LedgerView
from shared.youtube.quota import QuotaProfile, videos_per_pool

_TIE = 1e-6


def calculate_account_score(
    account: Mapping[str, Any],
    *,
    quota_units: float = 10_000,
    uploads_norm: int = 5,
    rest_hours: float = 4.0,
    weights: Mapping[str, float] | None = None,
    reserve_factor: float = 0.1,
) -> float:
    """The seed's AccountRotationEngine.calculate_account_score, with its numbers as parameters.

    `account` has quota_remaining, uploads_today, error_rate, hours_since_use and is_reserve.
    """
    w = weights or {"quota": 0.4, "uploads": 0.3, "errors": 0.2, "rest": 0.1}
    score = 100.0
    quota_factor = (account["quota_remaining"] / quota_units) * w["quota"]
    upload_factor = max(0, (uploads_norm - account["uploads_today"]) / uploads_norm) * w["uploads"]
    error_factor = (1 - account["error_rate"]) * w["errors"]
    rest_factor = min(account["hours_since_use"] / rest_hours, 1.0) * w["rest"]
    final_score = score * (quota_factor + upload_factor + error_factor + rest_factor)
    if account["is_reserve"]:
        final_score *= reserve_factor
    return final_score


@dataclass(frozen=True)
class Candidate:
    """An account as the rotation sees it now: the score's inputs, its score, whether it can take a video."""

    account: Account
    quota_used: int
    quota_remaining: int
    quota_limit: int
    uploads_today: int
    hours_since_use: float
    score: float
    has_capacity: bool

    @property
    def account_id(self) -> str:
        return self.account.account_id

    def score_inputs(self) -> dict[str, Any]:
        return {
            "quota_remaining": self.quota_remaining,
            "uploads_today": self.uploads_today,
            "error_rate": self.account.error_rate,
            "hours_since_use": self.hours_since_use,
            "is_reserve": self.account.tier == "reserve",
        }


def score_of(settings: Settings, inputs: Mapping[str, Any], quota_limit: int) -> float:
    return calculate_account_score(
        inputs,
        quota_units=quota_limit,
        uploads_norm=settings.rotation_uploads_norm,
        rest_hours=settings.rotation_rest_hours,
        weights=settings.rotation_weights,
        reserve_factor=settings.rotation_reserve_factor,
    )


def candidates(
    settings: Settings,
    accounts: Sequence[Account],
    view: LedgerView,
    profiles: Mapping[str, QuotaProfile],
    profile_of: Mapping[str, str] | None,
    now: datetime,
) -> list[Candidate]:
    """Every account with its score inputs from the ledger; `has_capacity` says whether a video fits
    (healthy, under its daily cap, its pool neither full nor exhausted)."""
    out = []
    per_pool: dict[str, int] = {}  # videos a pool may carry, per profile (the rules are the same for all)
    for a in accounts:
        profile_name = (profile_of or {}).get(a.pool, settings.quota_default_profile)
        profile = profiles[profile_name]
        if profile_name not in per_pool:
            per_pool[profile_name] = videos_per_pool(profile, settings.quota_binding)
        pool_day = view.pool(a.pool, profile_name)
        limit = profile.buckets[profile.score_bucket].daily_limit
        used = pool_day.used(profile.score_bucket)
        uploads = pool_day.videos_by_account.get(a.account_id, 0)
        hours = a.hours_since_use(now)
        remaining = max(0, limit - used)
        inputs = {
            "quota_remaining": remaining,
            "uploads_today": uploads,
            "error_rate": a.error_rate,
            "hours_since_use": hours,
            "is_reserve": a.tier == "reserve",
        }
        fits = (
            a.effective_status(now) == "healthy"
            and uploads < a.cap(settings)
            and not pool_day.exhausted
            and pool_day.videos < per_pool[profile_name]
        )
        out.append(
            Candidate(a, used, remaining, limit, uploads, hours, score_of(settings, inputs, limit), fits)
        )
    return out


class AccountRotation:
    """Orders candidates for one upload; remembers the last pick (per instance) for round-robin ties."""

    def __init__(self, settings: Settings, *, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._last: str | None = None

    def rounds(self, pool: Sequence[Candidate]) -> list[list[Candidate]]:
        """The usable candidates in their three rounds, each sorted (score, then round-robin)."""
        threshold = self._settings.rotation_health_threshold * 100
        usable = [c for c in pool if c.has_capacity]
        active = [c for c in usable if c.account.tier == "active"]
        first = [c for c in active if c.score >= threshold - _TIE]
        second = [c for c in active if c.score < threshold - _TIE]
        reserve = [c for c in usable if c.account.tier == "reserve"]
        return [self._sorted(r) for r in (first, second, reserve)]

    def order(self, pool: Sequence[Candidate], *, spread: int | None = None) -> list[Candidate]:
        """Every usable candidate once, in the order an upload should try them."""
        spread = self._settings.rotation_spread if spread is None else spread
        rounds = [r for r in self.rounds(pool) if r]
        if not rounds:
            return []
        head = rounds[0]
        k = min(spread, len(head))
        if k > 1:
            with self._lock:
                i = self._rng.randrange(k)
            head = [head[i], *head[:i], *head[i + 1 :]]
        return [*head, *(c for r in rounds[1:] for c in r)]

    def picked(self, account_id: str) -> None:
        """Remember the account an upload went to: equal scores continue after it next time."""
        with self._lock:
            self._last = account_id

    def _sorted(self, round_: list[Candidate]) -> list[Candidate]:
        with self._lock:
            last = self._last

        def after_last(c: Candidate) -> tuple[int, str]:
            # Cyclic order of ids starting just after the last pick.
            return (0 if last is None or c.account_id > last else 1, c.account_id)

        by_id = sorted(round_, key=after_last)
        # Stable sort by score, descending; equal scores (to 6 decimals) keep the round-robin order.
        return sorted(by_id, key=lambda c: -round(c.score, 6))

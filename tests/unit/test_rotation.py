"""The seed's calculate_account_score and the order in which an upload tries accounts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.config import Settings
from shared.youtube.accounts import Account
from shared.youtube.ledger import LedgerView, PoolDay
from shared.youtube.quota import DEFAULT_PROFILES
from shared.youtube.rotation import AccountRotation, Candidate, calculate_account_score, candidates

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def seed_account(**changes: object) -> dict:
    return {
        "quota_remaining": 10_000,
        "uploads_today": 0,
        "error_rate": 0.0,
        "hours_since_use": 4,
        "is_reserve": False,
        **changes,
    }


# --- the score ----------------------------------------------------------------------------------------
def test_a_fresh_rested_account_scores_100() -> None:
    assert calculate_account_score(seed_account()) == pytest.approx(100.0)


def test_the_score_on_the_seeds_own_numbers() -> None:
    # Two uploads at the seed's 1,700 units a video (3,400 used), 10 % errors, last used an hour ago:
    # 100 x (6,600/10,000 x 0.4 + 3/5 x 0.3 + 0.9 x 0.2 + 1/4 x 0.1) = 100 x (0.264 + 0.18 + 0.18 + 0.025)
    account = seed_account(quota_remaining=6_600, uploads_today=2, error_rate=0.1, hours_since_use=1)
    assert calculate_account_score(account) == pytest.approx(64.9)
    # The seed's daily limit of 5 uploads: the upload factor never goes negative; rest caps at 4 hours.
    spent = seed_account(quota_remaining=0, uploads_today=7, error_rate=1.0, hours_since_use=30)
    assert calculate_account_score(spent) == pytest.approx(10.0)


def test_reserve_accounts_score_a_tenth() -> None:
    active = calculate_account_score(seed_account(uploads_today=1))
    assert calculate_account_score(seed_account(uploads_today=1, is_reserve=True)) == pytest.approx(
        active * 0.1
    )


def test_the_weights_and_normalisers_are_settings() -> None:
    s = Settings(
        rotation_weights={"quota": 1, "uploads": 0, "errors": 0, "rest": 0}, rotation_reserve_factor=0.5
    )
    from shared.youtube.rotation import score_of

    assert score_of(s, seed_account(quota_remaining=50, is_reserve=True), quota_limit=100) == pytest.approx(
        25
    )


# --- ranking --------------------------------------------------------------------------------------------
def cand(account_id: str, score: float, *, tier: str = "active", fits: bool = True) -> Candidate:
    return Candidate(Account(account_id=account_id, tier=tier), 0, 10_000, 10_000, 0, 4.0, score, fits)


def ids(cands: list[Candidate]) -> list[str]:
    return [c.account_id for c in cands]


def test_higher_scores_first_then_below_the_threshold_then_reserve() -> None:
    rotation = AccountRotation(Settings(rotation_spread=1))
    pool = [
        cand("low", 50),
        cand("res-high", 9.9, tier="reserve"),
        cand("best", 95),
        cand("good", 70),  # exactly the threshold (0.7 x 100) counts as healthy
        cand("full", 99, fits=False),
        cand("res-low", 2, tier="reserve"),
        cand("lowest", 3),  # scores below a reserve account, still goes before the reserve fleet
    ]
    rounds = rotation.rounds(pool)
    assert [ids(r) for r in rounds] == [["best", "good"], ["low", "lowest"], ["res-high", "res-low"]]
    assert ids(rotation.order(pool)) == ["best", "good", "low", "lowest", "res-high", "res-low"]


def test_equal_scores_go_round_robin() -> None:
    rotation = AccountRotation(Settings(rotation_spread=1))
    pool = [cand("c", 80), cand("a", 80), cand("b", 80), cand("z", 60)]
    picks = []
    for _ in range(5):
        first = rotation.order(pool)[0]
        rotation.picked(first.account_id)
        picks.append(first.account_id)
    assert picks == ["a", "b", "c", "a", "b"]
    assert ids(rotation.order(pool)) == ["c", "a", "b", "z"]  # after b: c, then around


def test_concurrent_pickers_spread_over_the_top_candidates() -> None:
    pool = [cand(f"acct-{i:02d}", 100 - i * 0.001) for i in range(15)]  # nearly equal, 00 the best
    firsts = [
        AccountRotation(Settings(rotation_spread=3), rng=random.Random(i)).order(pool)[0] for i in range(16)
    ]
    assert {c.account_id for c in firsts} == {"acct-00", "acct-01", "acct-02"}
    # and every order still holds each usable account once
    assert sorted(ids(AccountRotation(Settings()).order(pool))) == sorted(ids(pool))
    assert AccountRotation(Settings()).order([cand("x", 90, fits=False)]) == []


# --- candidates from the pool and today's ledger -----------------------------------------------------------
def test_capacity_follows_status_caps_and_pool_state() -> None:
    s = Settings()
    accounts = [
        Account(account_id="ok", pool="p1", last_used_at=NOW - timedelta(hours=1)),
        Account(account_id="capped", pool="p2"),
        Account(account_id="full-pool", pool="p3"),
        Account(account_id="exhausted", pool="p4"),
        Account(
            account_id="cooling", pool="p5", status="cooling_down", cooldown_until=NOW + timedelta(hours=2)
        ),
        Account(
            account_id="cooled", pool="p6", status="cooling_down", cooldown_until=NOW - timedelta(minutes=1)
        ),
        Account(account_id="reauth", pool="p7", status="needs_reauth"),
        Account(account_id="spare", pool="p8", tier="reserve"),
    ]
    view = LedgerView(
        "2026-11-22",
        {
            "p1": PoolDay(
                "p1", "seed", videos=1, videos_by_account={"ok": 1}, spent={("units", "uploads"): 1700}
            ),
            "p2": PoolDay("p2", "seed", videos=3, videos_by_account={"capped": 5}),  # 5 = the active cap
            "p3": PoolDay("p3", "seed", videos=4, videos_by_account={"other": 4}),  # 4 = the pool's rules
            "p4": PoolDay("p4", "seed", exhausted=True),
        },
    )
    got = {c.account_id: c for c in candidates(s, accounts, view, DEFAULT_PROFILES, {}, NOW)}
    assert {k for k, c in got.items() if c.has_capacity} == {"ok", "cooled", "spare"}
    ok = got["ok"]
    assert (ok.quota_used, ok.quota_remaining, ok.uploads_today, ok.hours_since_use) == (1700, 8300, 1, 1.0)
    assert ok.score == pytest.approx(100 * (0.83 * 0.4 + 0.8 * 0.3 + 0.2 + 0.25 * 0.1))
    assert got["spare"].score == pytest.approx(10.0)  # never used: fully rested, x0.1

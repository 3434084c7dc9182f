"""Rotation pick time for pools of 15, 100 and 1,000 accounts (µs per pick).

A pick is what an upload does before its first reservation: score every account from the pool's view
(accounts + today's ledger: `rotation.candidates`) and order them (`AccountRotation.order`: rounds,
round-robin ties, spread). In memory; the view's Firestore read is measured by bench_simulated_day.

    python tests/bench/bench_rotation.py [--picks 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.config import Settings
from shared.youtube.accounts import Account
from shared.youtube.ledger import LedgerView, PoolDay
from shared.youtube.quota import DEFAULT_PROFILES
from shared.youtube.rotation import AccountRotation, candidates

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def pool_of(n: int, rng: random.Random) -> tuple[list[Account], LedgerView]:
    """n accounts (4 active : 1 reserve, as the seed's 12 + 3), one pool each, a day half gone."""
    accounts, pools = [], {}
    for i in range(n):
        pool = f"p{i:04d}"
        uploads = rng.randrange(0, 4)
        accounts.append(
            Account(
                account_id=f"a{i:04d}",
                tier="reserve" if i % 5 == 4 else "active",
                pool=pool,
                error_rate=round(rng.random() * 0.2, 3),
                last_used_at=NOW - timedelta(minutes=rng.randrange(0, 600)),
            )
        )
        pools[pool] = PoolDay(
            pool,
            "seed",
            videos=uploads,
            videos_by_account={f"a{i:04d}": uploads},
            spent={("units", "uploads"): 1700 * uploads},
        )
    return accounts, LedgerView("2026-11-22", pools)


def measure(n: int, picks: int) -> dict[str, float]:
    rng = random.Random(n)
    settings = Settings()
    accounts, view = pool_of(n, rng)
    rotation = AccountRotation(settings, rng=random.Random(1))
    ranked = candidates(settings, accounts, view, DEFAULT_PROFILES, {}, NOW)
    t0 = time.perf_counter()
    for _ in range(picks):
        rotation.picked(rotation.order(ranked)[0].account_id)
    order_us = (time.perf_counter() - t0) / picks * 1e6
    rounds = max(1, picks // 10)
    t0 = time.perf_counter()
    for _ in range(rounds):
        ranked = candidates(settings, accounts, view, DEFAULT_PROFILES, {}, NOW)
        rotation.picked(rotation.order(ranked)[0].account_id)
    full_us = (time.perf_counter() - t0) / rounds * 1e6
    return {"accounts": n, "order_us": round(order_us, 1), "score_and_order_us": round(full_us, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--picks", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [measure(n, args.picks if n < 1000 else max(100, args.picks // 5)) for n in (15, 100, 1000)]
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{'accounts':>9} {'order (µs/pick)':>16} {'score + order (µs/pick)':>24}")
    for r in results:
        print(f"{r['accounts']:>9} {r['order_us']:>16.1f} {r['score_and_order_us']:>24.1f}")
    base = results[0]["score_and_order_us"]
    print(
        "per-account cost ratio vs 15: "
        + ", ".join(
            f"{r['accounts']}: {r['score_and_order_us'] / base / (r['accounts'] / 15):.2f}" for r in results
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

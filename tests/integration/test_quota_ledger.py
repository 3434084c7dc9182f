"""The quota ledger and the account documents on the Firestore emulator: exact under concurrency,
reservation → settlement → release, the rules of the profile, and the accounts' error history."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.bootstrap import Container
from shared.youtube import quota
from shared.youtube.accounts import Account, pacific_day
from shared.youtube.ledger import QuotaLedger, QuotaUnavailable, Refusal, VideoReservation
from tests.pool_harness import fleet_capacity, pool_settings, seed_fleet

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(firestore_emulator):
    return pool_settings(firestore_emulator.host_port, "http://127.0.0.1:9", pools=15)


@pytest.fixture
def c(settings) -> Container:
    return Container(settings)


def fleet(c: Container, active: int = 12, reserve: int = 3) -> list[Account]:
    accounts = [Account(account_id=a, tier=t, pool=p) for a, t, p in seed_fleet(active, reserve)]
    for a in accounts:
        c.accounts.put(a)
    return accounts


def spent_per_pool(ledger: QuotaLedger) -> dict[str, dict[tuple[str, str], int]]:
    return {name: p.spent for name, p in ledger.view().pools.items()}


def test_sixteen_threads_reserve_exactly_the_capacity_and_never_pass_a_limit(c: Container) -> None:
    accounts = fleet(c)
    capacity = fleet_capacity(c.settings, accounts)
    assert capacity == 12 * 4 + 3 * 2  # seed profile, categories binding: 4 per pool; reserve cap 2
    demand = 200
    accepted: list[VideoReservation] = []
    lock = threading.Lock()
    violations: list[str] = []
    done = threading.Event()

    def watch() -> None:  # samples every ledger while the run goes on
        while not done.is_set():
            for pool, spent in spent_per_pool(c.ledger).items():
                violations.extend(
                    quota.within_limits(c.ledger.profile(pool), c.settings.quota_binding, spent)
                )
            time.sleep(0.25)

    def reserve(i: int) -> None:
        order = list(accounts)
        random.Random(i).shuffle(order)  # each request walks the pool from its own start
        for account in order:
            res = c.ledger.reserve_video(account, f"job-{i:03d}")
            if not isinstance(res, Refusal):
                with lock:
                    accepted.append(res)
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(reserve, range(demand)))
    done.set()
    watcher.join()

    assert len(accepted) == min(demand, capacity)
    assert violations == []
    per_account: dict[str, int] = {}
    for res in accepted:
        per_account[res.account_id] = per_account.get(res.account_id, 0) + 1
    assert all(
        n <= (5 if a.tier == "active" else 2) for a in accounts for n in [per_account.get(a.account_id, 0)]
    )
    view = c.ledger.view()
    assert sum(p.videos for p in view.pools.values()) == capacity
    for pool, spent in spent_per_pool(c.ledger).items():
        assert quota.within_limits(c.ledger.profile(pool), "categories", spent) == []


def test_settlement_records_what_calls_cost_and_release_gives_back(c: Container) -> None:
    [account] = fleet(c, 1, 0)
    res = c.ledger.reserve_video(account, "job-1")
    assert isinstance(res, VideoReservation)
    pool = c.ledger.view().pools["p0001"]
    assert pool.spent == {("units", "uploads"): 1700} and pool.videos_by_account == {"a0001": 1}

    c.ledger.settle_video(res, "videos.insert", ok=True)
    c.ledger.settle_video(res, "thumbnails.set", ok=False)  # failed: 1 unit
    c.ledger.settle_video(res, "thumbnails.set", ok=True, new_call=True)  # made again: 50 more
    c.ledger.settle_video(res, "videos.insert", ok=True)  # a resumed upload: no new call, no charge
    spent = c.ledger.view().pools["p0001"].spent
    assert spent == {("units", "uploads"): 1600 + 1 + 50 + 50}

    other = c.ledger.reserve_video(account, "job-2")
    c.ledger.release_video(other, failed_call="videos.insert")
    c.ledger.release_video(VideoReservation(**{**res.to_json(), "holder": "someone-else"}))  # not theirs
    view = c.ledger.view().pools["p0001"]
    assert view.videos == 1 and view.spent[("units", "uploads")] == 1701 + 1


def test_a_full_account_or_pool_refuses_cleanly(c: Container) -> None:
    a, b = (
        Account(account_id="solo", pool="shared", daily_upload_cap=2),
        Account(account_id="duo", pool="shared"),
    )
    refusals = [c.ledger.reserve_video(a, f"j{i}") for i in range(3)]
    assert [type(r).__name__ for r in refusals] == ["VideoReservation", "VideoReservation", "Refusal"]
    assert refusals[2] == Refusal("account_cap")
    more = [c.ledger.reserve_video(b, f"k{i}") for i in range(3)]
    # the pool takes 4 videos a day (seed profile): 2 from `solo`, 2 from `duo`, then it is full
    assert [getattr(r, "reason", "ok") for r in more] == ["ok", "ok", "pool_full"]
    assert c.ledger.view().pools["shared"].videos == 4
    assert len({r.account_slot for r in (*refusals[:2], *more[:2])}) == 4


def test_other_calls_spend_what_the_rules_leave(c: Container) -> None:
    # categories binding, seed profile: analytics may spend its 10 % = 1,000 units; the videos' share
    # is set aside, so uploads leave 7,000 - 4 x 1,700 = 200 units for other upload-category calls.
    for _ in range(3):
        with c.ledger.metered("p0001", "youtubeAnalytics.reports.query"):
            pass
    with pytest.raises(RuntimeError), c.ledger.metered("p0001", "channels.list"):
        raise RuntimeError("the call failed")  # charged its 1 unit all the same
    spent = c.ledger.view().pools["p0001"].spent
    assert spent == {("units", "analytics"): 3, ("units", "metadata"): 1}

    profile = c.ledger.profile("p0001")
    heavy = profile.model_copy(
        update={
            "methods": {
                **profile.methods,
                "search.list": quota.MethodCost(bucket="units", cost=900, category="analytics"),
            }
        }
    )
    ledger = QuotaLedger(
        c.firestore, c.settings.model_copy(update={"quota_profiles": {"seed": heavy, "bucketed": heavy}})
    )
    ledger.reserve("p0001", "search.list")  # 3 + 900 <= 1,000
    with pytest.raises(QuotaUnavailable, match="analytics"):
        ledger.reserve("p0001", "search.list")
    with pytest.raises(QuotaUnavailable, match=r"emergency|budget"):
        ledger.reserve("p0001", "videos.update", category="emergency")  # emergency only when flagged
    hold = ledger.reserve("p0001", "search.list", emergency=True)  # a crisis may use the emergency share
    ledger.release(hold)


def test_an_exhausted_pool_takes_nothing_more_today(c: Container) -> None:
    c.ledger.mark_exhausted("p0002", "quotaExceeded on a0002")
    c.ledger.mark_exhausted("p0002", "again")  # idempotent
    with pytest.raises(QuotaUnavailable, match="exhausted"):
        c.ledger.reserve("p0002", "channels.list")
    assert c.ledger.view().pools["p0002"].exhausted is True


def test_a_lost_reservation_is_found_by_its_holder_and_orphans_are_released(c: Container) -> None:
    [account] = fleet(c, 1, 0)
    res = c.ledger.reserve_video(account, "job-lost")
    # a second claim by the same job, left behind by a crash, on a slot the reservation does not hold
    # (slots are claimed in random order, so pick one that is certainly not the reservation's)
    day = pacific_day(datetime.now(UTC))
    free = next(f"a0001_{day}_u{n:02d}" for n in range(5) if f"a0001_{day}_u{n:02d}" != res.account_slot)
    orphan = c.firestore.collection(f"{c.settings.collection_prefix}account_slots").document(free)
    orphan.set({"account_id": "a0001", "day": pacific_day(datetime.now(UTC)), "holder": "job-lost"})

    found = c.ledger.find_video_reservation("job-lost")

    assert found == res
    assert not orphan.get().exists
    assert c.ledger.find_video_reservation("job-never") is None


def test_account_outcomes_keep_the_error_history(c: Container) -> None:
    c.accounts.put(Account(account_id="acct-x"))
    c.accounts.record_outcome("acct-x", ok=False)
    a = c.accounts.record_outcome("acct-x", ok=True)
    assert (a.calls, a.errors, a.consecutive_failures) == (2, 1, 0)
    assert a.error_rate == pytest.approx(0.2 * 0.8)
    assert a.last_used_at is not None
    for _ in range(c.settings.account_max_consecutive_failures):
        a = c.accounts.record_outcome("acct-x", ok=False)
    assert a.status == "cooling_down" and a.cooldown_until > datetime.now(UTC)
    assert c.accounts.record_outcome("acct-x", ok=False, counts_as_error=False).errors == a.errors
    assert c.accounts.record_outcome("nobody", ok=True) is None

    later = a.cooldown_until + timedelta(seconds=1)
    assert c.accounts.get("acct-x").effective_status(later) == "healthy"

    assert c.accounts.mark_needs_reauth("acct-x", "invalid_grant") is True
    assert c.accounts.mark_needs_reauth("acct-x", "invalid_grant") is False  # one notification a day
    [note] = c.accounts.notifications()
    assert note["kind"] == "account_needs_reauth" and note["action"] == "ytempire accounts authorize acct-x"
    assert c.accounts.get("acct-x").status == "needs_reauth"
    assert c.accounts.add(Account(account_id="acct-x")) is False

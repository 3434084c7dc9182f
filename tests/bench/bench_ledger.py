"""Quota-ledger throughput on the Firestore emulator with 1, 4 and 16 workers (threads), and why it is
built the way it is.

* video reservations (slot claims: an account slot and a pool slot, create-if-absent) over a pool of
  15 accounts, each worker picking among the top candidates as the rotation's spread does;
* other calls charged through optimistic transactions on the 15 pool-day documents (reserve + settle);
* for comparison, the obvious design: a read-increment Firestore transaction, on one hot document.

Workers are processes, as function instances are (threads would measure the Python client's GIL).
Each row also shows the CPU one operation costs (client processes, the emulator's JVM) and how busy
the machine's cores were: when they are saturated, more workers cannot go faster, whatever the design.
Prints reservations per second, the 16-vs-1 ratio (target >= 4x) and the conflicts (slot creates that
found their slot taken; optimistic commits that lost their race; transactions aborted). Nothing asserted.

Two settings, both printed:

* **bare emulator**: the client a millisecond from the emulator on the same cores. One worker alone
  keeps most of a small machine's cores busy (the Python client's ~1.5 ms and the JVM's 2-4 ms of CPU
  per reservation), so the 16-worker rate is the machine's CPU ceiling, whatever the design;
* **with a round trip** (`--rtt-ms`, default 10): the same emulator behind a proxy that delays every
  byte by half of it each way (tests/bench/latency_proxy.py), as a function instance waits on Firestore
  in production. Then a worker mostly waits, and what 16 workers gain is what the design allows: slot
  claims that do not contend scale; the one hot document does not.

    python tests/bench/bench_ledger.py [--seconds 5] [--rtt-ms 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.local.emulators import start_firestore
from shared.config import Settings
from shared.gcp.firestore_jobs import firestore_client
from shared.gcp.optimistic import ContentionStats
from shared.youtube import quota
from shared.youtube.accounts import Account
from shared.youtube.ledger import QuotaLedger, Refusal
from tests.bench.latency_proxy import LatencyProxy

ACCOUNTS = 15
# Limits far above what a run can use, so every reservation is accepted and the rate is the ledger's.
ROOMY = quota.SEED_PROFILE.model_copy(
    update={
        "buckets": {
            "units": quota.QuotaBucket(
                daily_limit=17_000_000,
                safe_limit=17_000_000,
                categories=dict(quota.SEED_PROFILE.buckets["units"].categories),
            )
        }
    }
)


def settings(host: str, prefix: str) -> Settings:
    return Settings(
        firestore_emulator_host=host,
        collection_prefix=prefix,
        quota_profiles={"seed": ROOMY, "bucketed": ROOMY},
        account_daily_upload_cap={"active": 5000, "reserve": 5000},
    )


def _reservation_work(ledger: QuotaLedger) -> Callable[[random.Random], int]:
    accounts = [Account(account_id=f"a{i:02d}", pool=f"p{i:02d}") for i in range(ACCOUNTS)]

    def work(rng: random.Random) -> int:
        # the rotation's spread: half the picks among the top 3, the rest anywhere in the pool
        account = rng.choice(accounts[:3]) if rng.random() < 0.5 else rng.choice(accounts)
        return int(not isinstance(ledger.reserve_video(account, f"h{rng.random()}"), Refusal))

    return work


def _charge_work(ledger: QuotaLedger) -> Callable[[random.Random], int]:
    def work(rng: random.Random) -> int:
        with ledger.metered(f"p{rng.randrange(ACCOUNTS):02d}", "channels.list"):
            pass
        return 1

    return work


def _hot_transaction_work(s: Settings) -> Callable[[random.Random], int]:
    """The design DESIGN.md warns about: every worker read-increments one counter in a transaction."""
    from google.api_core import exceptions as gexc
    from google.cloud import firestore

    client = firestore_client(s)
    ref = client.collection(f"{s.collection_prefix}counter").document("hot")

    def work(rng: random.Random) -> int:
        @firestore.transactional
        def increment(txn: Any) -> None:
            snap = ref.get(transaction=txn)
            txn.set(ref, {"n": (snap.get("n") if snap.exists else 0) + 1})

        try:
            increment(client.transaction(max_attempts=1))
            return 1
        except (gexc.GoogleAPICallError, ValueError):
            time.sleep(rng.uniform(0, 0.05))
            return -1  # an aborted transaction

    return work


def _worker(
    kind: str, host: str, prefix: str, seed: int, go: Any, seconds: float, ready: Any, out: Any
) -> None:
    """One worker process (as one function instance would be): its own client, its own ledger."""
    s = settings(host, prefix)
    stats = ContentionStats()
    ledger = QuotaLedger(firestore_client(s), s, stats=stats)
    work = {
        "reservations": lambda: _reservation_work(ledger),
        "charges": lambda: _charge_work(ledger),
        "hot_transaction": lambda: _hot_transaction_work(s),
    }[kind]()
    rng = random.Random(seed)
    done = aborted = 0
    ready.put(seed)
    go.wait()
    cpu0 = _own_cpu_s()
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        result = work(rng)
        done += result > 0
        aborted += result < 0
    out.put((done, stats.conflicts + aborted, _own_cpu_s() - cpu0))


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def group_cpu_s(pgid: int) -> float:
    """CPU seconds used so far by every process of a process group (the emulator's JVM and its shells)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat (pgrp), after the command name
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def run(kind: str, host: str, workers: int, seconds: float, emulator_pgid: int | None = None) -> dict:
    """`workers` processes doing `kind` for `seconds`, started together once all have imported."""
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    procs = [
        ctx.Process(target=_worker, args=(kind, host, prefix, i, go, seconds, ready, out), daemon=True)
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every process has imported its libraries and built its client
        ready.get(timeout=300)
    emulator_cpu0 = group_cpu_s(emulator_pgid) if emulator_pgid else 0.0
    machine0, wall0, own0 = _machine_busy_s(), time.monotonic(), _own_cpu_s()
    go.set()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    emulator_cpu = (group_cpu_s(emulator_pgid) - emulator_cpu0) if emulator_pgid else 0.0
    machine, wall = _machine_busy_s() - machine0, time.monotonic() - wall0
    own = _own_cpu_s() - own0  # this process: the latency proxy's thread when there is one
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():  # a transaction still blocked on a lock: not ours to wait for
            p.kill()
    done = sum(r[0] for r in results)
    per_op = 1000 / max(done, 1)
    return {
        "workers": workers,
        "per_s": round(done / seconds, 2),
        "done": done,
        "conflicts": sum(r[1] for r in results),
        "client_cpu_ms_per_op": round(sum(r[2] for r in results) * per_op, 2),
        "emulator_cpu_ms_per_op": round(emulator_cpu * per_op, 2),
        "proxy_cpu_ms_per_op": round(own * per_op, 2),
        "machine_busy": round(machine / (wall * (os.cpu_count() or 1)), 2),  # everyone's processes
    }


def _machine_busy_s() -> float:
    """CPU seconds every core spent busy so far (all processes, ours and anyone else's)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


KINDS = {
    "reservations": ("video reservations (slot claims)", (1, 4, 16)),
    "charges": ("other calls (optimistic transactions, reserve + settle)", (1, 4, 16)),
    "hot_transaction": ("baseline: read-increment transaction on one document", (1, 16)),
}


def measure(host: str, seconds: float, pgid: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        kind: [run(kind, host, w, seconds, pgid) for w in workers] for kind, (_, workers) in KINDS.items()
    }
    for kind in KINDS:
        rows = results[kind]
        results[f"{kind}_ratio_16_to_1"] = (
            round(rows[-1]["per_s"] / rows[0]["per_s"], 2) if rows[0]["per_s"] else None
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per row")
    parser.add_argument(
        "--rtt-ms", type=float, default=10.0, help="round trip added in the second setting (0: skip it)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    settings_run: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as logs:
        emulator = start_firestore(log_dir=logs)
        try:
            host, pgid = emulator.host_port, os.getpgid(emulator.pid)
            run("reservations", host, 4, 3.0)  # warm up the emulator's JVM, then measure
            settings_run["bare"] = measure(host, args.seconds, pgid)
            if args.rtt_ms > 0:
                with LatencyProxy(host, one_way_s=args.rtt_ms / 2000) as proxy:
                    settings_run[f"rtt_{args.rtt_ms:g}ms"] = measure(proxy.host_port, args.seconds, pgid)
        finally:
            emulator.stop()
    if args.json:
        print(json.dumps(settings_run))
        return 0
    print(f"{settings_run['cpus']} CPUs, shared by the workers, the emulator and the proxy")
    for name, results in settings_run.items():
        if name == "cpus":
            continue
        heading = "bare emulator" if name == "bare" else f"emulator + {args.rtt_ms:g} ms round trip"
        print(f"\n-- {heading}")
        for kind, (title, _) in KINDS.items():
            print(f"{title}")
            for r in results[kind]:
                line = f"  {r['workers']:>2} workers: {r['per_s']:>8} /s   ({r['done']} done,"
                cpu = (
                    f"CPU ms/op: client {r['client_cpu_ms_per_op']}, emulator {r['emulator_cpu_ms_per_op']}"
                    + (f", proxy {r['proxy_cpu_ms_per_op']}" if name != "bare" else "")
                    + f"; machine {r['machine_busy']:.0%} busy"
                )
                print(f"{line} {r['conflicts']} conflicts)   {cpu}")
            print(f"  16 vs 1: {results[f'{kind}_ratio_16_to_1']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

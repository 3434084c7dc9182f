"""A simulated day at 15, 100 and 1,000 accounts: uploads made / capacity computed from the rules
(target 1.00), and the quotaExceeded answers YouTube gave (target 0).

The seed's picture: 4 active accounts to 1 reserve (12 + 3), each in its own quota pool (OAuth client),
the seed profile, `quota_binding=categories`. Demand is the capacity plus 10 %, so some jobs must be
deferred. Each job runs the real upload step (rotation, ledger on the Firestore emulator,
google-api-python-client against the YouTube sandbox, which enforces quota per OAuth client); the videos
are a few KB. Workers are threads of this process, sharing one instance's pool view.

    python tests/bench/bench_simulated_day.py [--sizes 15,100,1000] [--workers 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.local.emulators import start_firestore
from infra.sandboxes.base import ServerThread
from infra.sandboxes.youtube import create_app
from shared.bootstrap import Container
from tests.fakes import InMemoryJobStore, RecordingQueue
from tests.pool_harness import (
    DictSecrets,
    MemoryBlobs,
    Sandbox,
    configure_sandbox_quota,
    fleet_capacity,
    new_run,
    pool_settings,
    seed_fleet,
    seed_pool,
    simulate_day,
)


def one_day(host: str, sandbox: Sandbox, accounts: int, workers: int) -> dict:
    reserve = accounts // 5
    settings = pool_settings(
        host,
        sandbox.url,
        pools=accounts,
        # one instance's view of a big pool is re-read at most every 10 s (reading 1,000 accounts and
        # their day takes seconds on the emulator); the reservations themselves are always exact
        rotation_snapshot_ttl_s=10.0 if accounts > 100 else 2.0,
    )
    configure_sandbox_quota(sandbox, settings)
    store, blobs, queue = InMemoryJobStore(), MemoryBlobs(), RecordingQueue()
    c = Container(settings, secrets=DictSecrets(), blobs=blobs, jobs=store, queue=queue)
    t0 = time.monotonic()
    pool = seed_pool(c, seed_fleet(accounts - reserve, reserve), workers=8)
    seeded_s = time.monotonic() - t0
    capacity = fleet_capacity(settings, pool)
    demand = math.ceil(capacity * 1.1)
    day = simulate_day(
        c,
        store,
        blobs,
        queue,
        jobs_n=demand,
        workers=workers,
        video=random.Random(1).randbytes(2000),
        run=new_run(),
    )
    clients = settings.youtube_oauth_clients.values()
    return {
        "accounts": accounts,
        "capacity": capacity,
        "demand": demand,
        "uploaded": day.uploaded,
        "deferred": day.deferred,
        "failed": day.failed,
        "ratio": round(day.uploaded / capacity, 4),
        "quota_exceeded": sandbox.quota_exceeded(clients),
        "seconds": round(day.elapsed_s, 1),
        "uploads_per_s": round(day.uploaded / day.elapsed_s, 1),
        "seed_s": round(seeded_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="15,100,1000")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="also print the system's own logs")
    args = parser.parse_args(argv)
    # The system logs JSON lines on stdout; here they would bury the figures (and break --json).
    logging.getLogger("ytempire").setLevel(logging.INFO if args.verbose else logging.WARNING)
    results = []
    with tempfile.TemporaryDirectory() as logs:
        emulator = start_firestore(log_dir=logs)
        server = ServerThread(create_app()).start()
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                results.append(one_day(emulator.host_port, Sandbox(server.url), size, args.workers))
                if not args.json:
                    r = results[-1]
                    print(
                        f"{r['accounts']:>5} accounts: uploaded {r['uploaded']} / capacity {r['capacity']} = "
                        f"{r['ratio']:.2f}, deferred {r['deferred']} of {r['demand']}, failed {r['failed']}, "
                        f"quotaExceeded {r['quota_exceeded']}; {r['seconds']} s",
                        flush=True,
                    )
        finally:
            server.stop()
            emulator.stop()
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

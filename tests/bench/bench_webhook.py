"""Stripe webhook handling on the local cloud: events/s and latency (median, p95) for new events and for
redelivered (duplicate) ones, over real HTTP to `stripe_webhook` served by functions-framework, against
the Firestore emulator. Also counts the billing store calls each kind of delivery makes: a duplicate is
one document read (`event_status`), no claim and no transaction.

    python tests/bench/bench_webhook.py [--events 300] [--concurrency 1 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from infra.local.emulators import start_firestore  # noqa: E402
from infra.local.processes import free_port  # noqa: E402
from infra.sandboxes.base import ServerThread  # noqa: E402
from tests.billing_helpers import body, event, invoice, sign, subscription  # noqa: E402

SECRET = "whsec_bench_local"


class CountingBilling:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*a, **kw):
            self.calls[name] += 1
            return attr(*a, **kw)

        return counted


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_events(n: int, run: str) -> list[bytes]:
    """A realistic mix: subscription events and invoices of n/4 customers (4 events each)."""
    now = int(time.time())
    out = []
    for i in range(n // 4):
        cid, sid, cus = f"bench-{run}-{i}", f"sub_b{run}{i}", f"cus_b{run}{i}"

        def sub(status: str, sid: str = sid, cid: str = cid, cus: str = cus) -> dict:
            return subscription(
                sid,
                customer_id=cid,
                cus=cus,
                status=status,
                price="price_growth_monthly",
                period_end=now + 86400 * 30,
            )

        out += [
            event(f"evt_b{run}{i}a", "customer.subscription.created", now - 60, sub("incomplete")),
            event(
                f"evt_b{run}{i}b",
                "invoice.payment_succeeded",
                now - 59,
                invoice(f"in_b{run}{i}", sub_id=sid, cus=cus, paid=True, customer_id=cid),
            ),
            event(f"evt_b{run}{i}c", "customer.subscription.updated", now - 58, sub("active")),
            event(
                f"evt_b{run}{i}d", "charge.succeeded", now - 57, {"id": f"ch_b{run}{i}", "object": "charge"}
            ),
        ]
    return [body(e) for e in out]


def deliver_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], Counter]:
    def one(raw: bytes) -> tuple[float, int]:
        with requests.Session() as s:
            s.trust_env = False
            t0 = time.perf_counter()
            r = s.post(
                url,
                data=raw,
                headers={"Stripe-Signature": sign(raw, SECRET), "Content-Type": "application/json"},
                timeout=60,
            )
            return time.perf_counter() - t0, r.status_code

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, bodies))
    return time.perf_counter() - t0, [r[0] for r in results], Counter(r[1] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="also print the system's own logs")
    args = parser.parse_args()
    # The system logs JSON lines on stdout; here they would bury the figures (and break --json).
    logging.getLogger("ytempire").setLevel(logging.INFO if args.verbose else logging.WARNING)

    import functions_framework

    from shared import bootstrap
    from shared.bootstrap import Container
    from shared.config import Settings

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fs = start_firestore(log_dir=Path(tmp))
        try:
            settings = Settings(
                firestore_emulator_host=fs.host_port, stripe_webhook_secret=SECRET, project_id="bench"
            )
            c = Container(settings)
            counting = CountingBilling(c.billing)
            c.__dict__["billing"] = counting
            bootstrap.use(c)
            app = functions_framework.create_app("stripe_webhook", str(REPO / "functions" / "main.py"))

            class Root:
                def __call__(self, environ, start_response):
                    environ["PATH_INFO"] = "/"
                    return app(environ, start_response)

            port = free_port()
            server = ServerThread(Root(), "127.0.0.1", port).start()
            url = f"http://127.0.0.1:{port}/stripe_webhook"
            deliver_all(url, make_events(8, "warm"), 1)  # warm the clients
            try:
                for conc in args.concurrency:
                    bodies = make_events(args.events, f"c{conc}")
                    random.Random(conc).shuffle(bodies)  # customers' events interleave, as they do
                    for kind in ("new", "duplicate"):
                        counting.calls.clear()
                        elapsed, lat, codes = deliver_all(url, bodies, conc)
                        per = {k: round(v / len(bodies), 2) for k, v in sorted(counting.calls.items())}
                        rows.append(
                            {
                                "kind": kind,
                                "concurrency": conc,
                                "events": len(bodies),
                                "events_per_s": round(len(bodies) / elapsed, 1),
                                "median_ms": round(statistics.median(lat) * 1000, 1),
                                "p95_ms": round(percentile(lat, 0.95) * 1000, 1),
                                "statuses": dict(codes),
                                "store_calls_per_event": per,
                            }
                        )
            finally:
                server.stop()
                bootstrap.use(None)
        finally:
            fs.stop()
    if args.json:
        print(json.dumps({"webhook": rows}, indent=2))
        return 0
    print(
        f"{'kind':10} {'conc':>4} {'events':>6} {'ev/s':>7} {'median ms':>9} {'p95 ms':>7}  calls per event"
    )
    for r in rows:
        calls = ", ".join(f"{k} {v:g}" for k, v in r["store_calls_per_event"].items())
        figures = f"{r['events_per_s']:>7} {r['median_ms']:>9} {r['p95_ms']:>7}"
        print(f"{r['kind']:10} {r['concurrency']:>4} {r['events']:>6} {figures}  {calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

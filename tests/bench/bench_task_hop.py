"""Task hop overhead on the local cloud: from the enqueue call (the project's Cloud Tasks adapter) to the
moment the next step's function starts (its functions-framework handler is entered), over N hops.

Prints median and p95 (target: median ≤ 30 ms). Runs the Cloud Tasks emulator as `ytempire local up`
does (poll interval patched in infra/local/tasks_emulator_main.py); the receiving function is served by
functions-framework over HTTP on loopback.

    python tests/bench/bench_task_hop.py [--hops 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infra.local.emulators import start_tasks  # noqa: E402
from infra.local.processes import free_port  # noqa: E402
from infra.sandboxes.base import ServerThread  # noqa: E402

FUNCTION_SOURCE = """
import time, functions_framework
ARRIVALS = []
@functions_framework.http
def step_voice(request):
    ARRIVALS.append(time.perf_counter())
    return "ok"
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(hops: int, loop_sleep_s: float) -> dict:
    import functions_framework

    from shared.config import Settings
    from shared.gcp.tasks import CloudTasksQueue, tasks_client

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "main.py"
        source.write_text(FUNCTION_SOURCE)
        app = functions_framework.create_app("step_voice", str(source))
        module = sys.modules[
            next(m for m in sys.modules if getattr(sys.modules[m], "__file__", "") == str(source))
        ]
        port = free_port()

        class Root:  # mount at /step_voice as the local functions host does
            def __call__(self, environ, start_response):
                environ["PATH_INFO"] = "/"
                return app(environ, start_response)

        server = ServerThread(Root(), "127.0.0.1", port).start()
        tasks = start_tasks(log_dir=Path(tmp), loop_sleep_s=loop_sleep_s, max_retries=0)
        try:
            settings = Settings(
                tasks_emulator_host=tasks.host_port,
                functions_base_url=f"http://127.0.0.1:{port}",
                project_id="bench",
                queue_prefix="bench",
            )
            queue = CloudTasksQueue(tasks_client(settings), settings)
            queue.ensure_queues(("voice",))
            latencies = []
            for i in range(hops + 5):
                before = len(module.ARRIVALS)
                t0 = time.perf_counter()
                queue.enqueue("voice", f"job{i}", task_id=f"hop-{i}-{time.time_ns()}")
                while len(module.ARRIVALS) == before:
                    time.sleep(0.0002)
                if i >= 5:  # warm-up hops excluded
                    latencies.append((module.ARRIVALS[-1] - t0) * 1000)
            return {
                "hops": hops,
                "loop_sleep_s": loop_sleep_s,
                "median_ms": round(statistics.median(latencies), 2),
                "p95_ms": round(percentile(latencies, 0.95), 2),
                "max_ms": round(max(latencies), 2),
            }
        finally:
            tasks.stop()
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hops", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    patched = run(args.hops, 0.005)
    baseline = run(max(20, args.hops // 5), 0.1)  # the emulator's upstream poll interval, same run
    result = {
        "task_hop": patched,
        "baseline_upstream_poll": baseline,
        "speedup_median": round(baseline["median_ms"] / patched["median_ms"], 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"task hop over {patched['hops']} hops: median {patched['median_ms']} ms, "
            f"p95 {patched['p95_ms']} ms, max {patched['max_ms']} ms (target median ≤ 30 ms)"
        )
        print(
            f"baseline (upstream 100 ms poll, {baseline['hops']} hops): median {baseline['median_ms']} ms, "
            f"p95 {baseline['p95_ms']} ms → {result['speedup_median']}× faster"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

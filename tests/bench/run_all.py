"""Run every benchmark in turn and print its figures (`make bench`). Nothing here asserts a timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("task hop (Cloud Tasks emulator → function)", ["bench_task_hop.py", "--hops", "100"]),
    ("cold import per entry point", ["bench_cold_import.py", "--repeat", "5"]),
    ("render 60 s and 10 min at 720p, next to MoviePy", ["bench_render.py", "--seconds", "60", "600"]),
    ("content chains: TTS requests, cache hit rates, cost per video", ["bench_content_chains.py"]),
    ("Stripe webhook: new and duplicate events", ["bench_webhook.py", "--events", "300"]),
    ("rotation pick for 15, 100, 1,000 accounts", ["bench_rotation.py"]),
    ("quota ledger with 1, 4, 16 workers (Firestore emulator)", ["bench_ledger.py", "--seconds", "5"]),
    ("a simulated day at 15, 100, 1,000 accounts", ["bench_simulated_day.py"]),
]


def main() -> int:
    failed = 0
    for title, argv in BENCHES:
        print(f"\n== {title}", flush=True)
        failed += (
            subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], check=False).returncode != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

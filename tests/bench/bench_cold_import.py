"""Cold import of each Cloud Function entry point next to the import cost of the client libraries that
function really needs, as a ratio (target ≤ 1.15).

An entry point's cold cost is what its first request pays: functions.main, the entry point's door module
and the adapters its step touches (found by reading which container attributes the step module uses).
The baseline is the libraries that function really needs (functions_framework, pydantic and
pydantic-settings, and each adapter's client library). In one fresh interpreter per run the baseline is
imported first (t_libs), then the entry point's own modules (t_own: our code, plus any library the
baseline does not list — an unneeded import shows up here). ratio = (t_libs + t_own) / t_libs; medians
over --repeat fresh interpreters.

    python tests/bench/bench_cold_import.py [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infra.local.functions_host import entry_points  # noqa: E402

# Libraries every function needs: the framework, validation (pydantic) and the one settings object.
BASE_LIBS = ("functions_framework", "pydantic", "pydantic_settings")
# Container attribute → (adapter module, the libraries it really uses).
ADAPTERS = {
    "jobs": ("shared.gcp.firestore_jobs", ("google.cloud.firestore", "tenacity")),
    "accounts": ("shared.youtube.accounts", ("google.cloud.firestore",)),
    "queue": ("shared.gcp.tasks", ("google.cloud.tasks_v2", "tenacity")),
    "blobs": ("shared.gcp.storage", ("google.cloud.storage",)),
    "secrets": ("shared.gcp.secrets", ("google.cloud.secretmanager",)),
    "chat": ("shared.content.openai_chat", ("openai",)),
    "speech": ("shared.content.google_tts", ("google.cloud.texttospeech",)),
    "stock_media": ("shared.content.pexels", ("requests",)),
    "youtube": (
        "shared.youtube.gateway",
        (
            "googleapiclient.discovery",
            "googleapiclient.http",
            "google_auth_httplib2",
            "google.oauth2.credentials",
            "google.auth.transport.requests",
        ),
    ),
}
# Billing (issue 5): the Firestore billing store; the Stripe client; the webhook's signature check (stripe).
ADAPTERS |= {
    "billing": ("shared.billing.firestore_billing", ("google.cloud.firestore", "tenacity")),
    "stripe": ("shared.billing.stripe_api", ("stripe",)),
    "webhook": ("shared.billing.webhook", ("stripe",)),
}
# HTTP entry points and the adapters their first request builds.
HTTP_ADAPTERS = {
    "job_status": {"jobs"},
    "video_request": {"jobs", "queue", "billing"},
    "create_checkout": {"billing", "stripe"},
    "stripe_webhook": {"billing", "webhook"},
}
# Libraries a step's own domain code needs besides its adapters (e.g. Pillow draws thumbnails).
STEP_LIBS = {"step_thumbnail": ("PIL.Image", "PIL.ImageDraw", "PIL.ImageFont")}


def attributes_used(entry_point: str) -> list[str]:
    """Which adapters an entry point's first request builds: the runner's (jobs, queue) plus its step's."""
    used = set(HTTP_ADAPTERS.get(entry_point, {"jobs", "queue"}))
    if entry_point.startswith("step_"):
        source = (REPO / "shared" / "steps" / f"{entry_point.removeprefix('step_')}.py").read_text()
        used |= set(re.findall(r"\bc\.(\w+)", source)) & set(ADAPTERS)
    if "youtube" in used:
        used.add("secrets")  # the gateway reads tokens from Secret Manager
    return sorted(used)


def _time_imports(libs: list[str], ours: list[str]) -> tuple[float, float]:
    code = (
        "import time, importlib\n"
        "t0 = time.perf_counter()\n"
        f"for m in {libs!r}: importlib.import_module(m)\n"
        "t1 = time.perf_counter()\n"
        f"for m in {ours!r}: importlib.import_module(m)\n"
        "t2 = time.perf_counter()\n"
        "print(t1 - t0, t2 - t1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    libs_s, own_s = out.stdout.strip().splitlines()[-1].split()
    return float(libs_s) * 1000, float(own_s) * 1000


def measure(entry_point: str, repeat: int) -> dict:
    used = attributes_used(entry_point)
    libs = sorted(
        {*BASE_LIBS, *(lib for a in used for lib in ADAPTERS[a][1]), *STEP_LIBS.get(entry_point, ())}
    )
    ours = ["functions.main", f"functions.{entry_point}", *sorted({ADAPTERS[a][0] for a in used})]
    runs = [_time_imports(libs, ours) for _ in range(repeat)]
    libs_ms = statistics.median(r[0] for r in runs)
    own_ms = statistics.median(r[1] for r in runs)
    return {
        "entry_point": entry_point,
        "entry_ms": round(libs_ms + own_ms, 1),
        "libs_ms": round(libs_ms, 1),
        "own_ms": round(own_ms, 1),
        "ratio": round((libs_ms + own_ms) / libs_ms, 3),
        "libs": libs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(ep, args.repeat) for ep in entry_points()]
    if args.json:
        print(json.dumps({"cold_import": rows}, indent=2))
        return 0
    print(f"{'entry point':16} {'entry ms':>9} {'libs ms':>8} {'own ms':>7} {'ratio':>6}  libraries it needs")
    for r in rows:
        print(
            f"{r['entry_point']:16} {r['entry_ms']:9.1f} {r['libs_ms']:8.1f} {r['own_ms']:7.1f} "
            f"{r['ratio']:6.3f}  " + ", ".join(r["libs"])
        )
    print(f"worst ratio: {max(r['ratio'] for r in rows):.3f} (target ≤ 1.15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

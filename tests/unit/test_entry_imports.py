"""No entry point imports a client it does not use: in a fresh interpreter, an entry point's modules and
the adapters its first request builds (found as the cold-import benchmark finds them) load no client
library beyond the ones those adapters need."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.local.functions_host import entry_points
from tests.bench.bench_cold_import import first_request

REPO = Path(__file__).resolve().parents[2]
CLIENTS = (
    "openai",
    "stripe",
    "googleapiclient",
    "google.cloud.texttospeech",
    "google.cloud.secretmanager",
    "google.cloud.storage",
    "google.cloud.tasks_v2",
    "PIL",
)


def _loaded_clients(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps([c for c in {list(CLIENTS)!r} if c in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _needs(libs: list[str], client: str) -> bool:
    return any(lib == client or lib.startswith(client + ".") for lib in libs)


def test_every_entry_point_loads_only_the_clients_its_adapters_need():
    plans = {ep: first_request(ep) for ep in entry_points()}
    with ThreadPoolExecutor(4) as pool:
        loaded = dict(zip(plans, pool.map(lambda p: _loaded_clients(p[1]), plans.values()), strict=True))
    unneeded = {ep: [c for c in clients if not _needs(plans[ep][2], c)] for ep, clients in loaded.items()}
    assert {ep: c for ep, c in unneeded.items() if c} == {}
    # and the check sees what it should: the upload step does load the YouTube client it needs
    assert "googleapiclient" in loaded["step_upload"]


@pytest.mark.parametrize(
    ("entry_point", "adapter"),
    [
        ("step_upload", "youtube"),
        ("step_upload", "ledger"),
        ("step_script", "chat"),
        ("create_checkout", "stripe"),
    ],
)
def test_the_benchmark_finds_the_adapters_a_first_request_builds(entry_point, adapter):
    assert adapter in first_request(entry_point)[0]


def test_an_unneeded_client_would_be_reported():
    assert _loaded_clients(["functions.main", "functions.job_status", "openai"]) == ["openai"]
    assert not _needs(first_request("job_status")[2], "openai")

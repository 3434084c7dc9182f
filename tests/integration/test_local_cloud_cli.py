"""`ytempire local up | status | down` and `jobs show`, through the installed command: everything starts
on loopback, answers, and `down` stops exactly what `up` started (whole process groups)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from infra.local.functions_host import entry_points
from infra.local.processes import group_alive

pytestmark = pytest.mark.integration
YTEMPIRE = [sys.executable, "-m", "shared.cli"]
REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*YTEMPIRE, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=check
    )


@pytest.fixture()
def cli_env(tmp_path):
    env = {**os.environ, "YTEMPIRE_LOCAL_STATE_DIR": str(tmp_path / "state")}
    yield env
    _run("local", "down", env=env, check=False)  # never leave processes behind, even on failure


def test_up_status_jobs_down(cli_env, tmp_path):
    up = _run("local", "up", "--json", env=cli_env)
    status = json.loads(up.stdout)
    components = status["components"]
    assert {
        "firestore",
        "tasks",
        "storage",
        "secretmanager",
        "stripe",
        "functions",
        "sandbox_youtube",
        "sandbox_openai",
        "sandbox_tts",
        "sandbox_stock",
        "sandbox_elevenlabs",
        "sandbox_pixabay",
        "sandbox_unsplash",
        "sandbox_shutterstock",
    } <= set(components)
    assert all(c["running"] and c["url"].startswith("http://127.0.0.1:") for c in components.values())
    assert set(status["functions"]) == set(entry_points())
    assert "starting firestore" in up.stderr  # progress goes to stderr, JSON alone to stdout
    assert status["stripe_webhook_secret"].startswith("whsec_")  # the local cloud only: scripts sign events

    # every sandbox answers on its control surface; the functions answer over HTTP
    for name in ("youtube", "openai", "tts", "stock", "elevenlabs", "pixabay", "unsplash", "shutterstock"):
        assert requests.get(f"{components[f'sandbox_{name}']['url']}/_control/calls", timeout=5).json() == {
            "calls": []
        }
    body = {"customer_id": "cli", "topic": "Why skies are blue", "duration_s": 20}
    resp = requests.post(status["functions"]["video_request"], json=body, timeout=30)
    assert resp.status_code == 402  # no plan yet

    # the customer subscribes through localstripe; the plan arrives by its signed webhooks
    _run("billing", "create-customer", "cli", "--email", "cli@example.com", "--test-card", env=cli_env)
    sub = json.loads(
        _run(
            "billing",
            "subscribe",
            "cli",
            "--plan",
            "starter",
            "--payment-behavior",
            "allow_incomplete",
            "--wait-s",
            "30",
            "--json",
            env=cli_env,
        ).stdout
    )
    assert sub["status"] == "active" and sub["entitled"] is True
    customers = json.loads(_run("billing", "customers", "--json", env=cli_env).stdout)["customers"]
    assert customers == [
        {
            "customer_id": "cli",
            "stripe_customer_id": customers[0]["stripe_customer_id"],
            "subscription_id": sub["subscription_id"],
            "plan": "starter",
            "status": "active",
            "videos_per_day": 15,
            "channels": 5,
            "current_period_end": customers[0]["current_period_end"],
            "cancel_at_period_end": False,
        }
    ]
    invoices = json.loads(_run("billing", "invoices", "cli", "--json", env=cli_env).stdout)["invoices"]
    assert [(i["amount_usd"], i["status"]) for i in invoices] == [("97.00", "paid")]
    resp = requests.post(status["functions"]["video_request"], json=body, timeout=30)
    assert resp.status_code == 202
    job_id = resp.json()["job_id"]
    assert (
        requests.get(status["functions"]["job_status"], params={"job_id": "nope"}, timeout=10).status_code
        == 404
    )

    # a second `up` starts nothing new
    again = json.loads(_run("local", "up", "--json", env=cli_env).stdout)
    assert again["components"] == components

    shown = json.loads(_run("jobs", "show", job_id, "--json", env=cli_env).stdout)
    assert shown["job_id"] == job_id and shown["request"]["topic"] == "Why skies are blue"
    assert "script" in _run("jobs", "show", job_id, env=cli_env).stdout
    missing = _run("jobs", "show", "unknown-job", env=cli_env, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr

    state = json.loads((tmp_path / "state" / "cloud.json").read_text())
    groups = {c["pgid"] for c in state["components"].values()}
    cancel = json.loads(_run("billing", "cancel", "cli", "--json", env=cli_env).stdout)
    assert cancel["status"] == "pending_cancellation"
    down = json.loads(_run("local", "down", "--json", env=cli_env).stdout)
    assert set(down["stopped"]) == {
        "firestore",
        "tasks",
        "storage",
        "secretmanager",
        "stripe",
        "sandboxes",
        "functions",
    }
    assert not any(group_alive(g) for g in groups)
    assert json.loads(_run("local", "status", "--json", env=cli_env).stdout) == {
        "components": {},
        "functions": {},
    }

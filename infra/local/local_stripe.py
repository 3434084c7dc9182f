"""localstripe (PyPI) as the local cloud's Stripe: started from its own virtualenv (`.venv-localstripe`,
created by `make setup`; YTEMPIRE_LOCALSTRIPE_VENV overrides), bound to loopback, with its webhook
registered to the local `stripe_webhook` and signed with the local webhook secret.

localstripe speaks the 2017 API: it has Plans but no Prices or Checkout Sessions, and sends
customer.subscription.created/deleted and invoice.payment_succeeded/failed (no .updated). The plans are
created with the ids the settings give the prices, so the same settings work against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from infra.local.emulators import EmulatorProcess, _start, _venv_executable, emulator_venv
from infra.local.processes import free_port
from shared.config import Settings

LOCALSTRIPE_VENV_ENV = "YTEMPIRE_LOCALSTRIPE_VENV"
_MAIN = Path(__file__).with_name("localstripe_main.py")
WEBHOOK_ID = "ytempire-local"
# localstripe accepts any key that starts with sk_; nothing real sits behind it.
LOCAL_STRIPE_KEY = "sk_test_local_localstripe"
_DIRECT = requests.Session()
_DIRECT.trust_env = False  # loopback, whatever proxy the environment configures


def start_localstripe(
    port: int | None = None,
    log_dir: Path | str | None = None,
    venv: Path | str | None = None,
    *,
    ready_timeout_s: float = 30.0,
) -> EmulatorProcess:
    venv = emulator_venv(LOCALSTRIPE_VENV_ENV, ".venv-localstripe", venv)
    _venv_executable(venv, "localstripe", "localstripe", LOCALSTRIPE_VENV_ENV)
    python = _venv_executable(venv, "python", "localstripe", LOCALSTRIPE_VENV_ENV)
    port = port or free_port()
    return _start(
        "stripe-emulator",
        [str(python), str(_MAIN), "--port", str(port)],
        port=port,
        log_dir=log_dir,
        ready_url=f"http://127.0.0.1:{port}/v1/customers",  # 401 without a key: up
        ready_timeout_s=ready_timeout_s,
        env={"PYTHONUNBUFFERED": "1"},
    )


def register_webhook(base_url: str, target_url: str, secret: str) -> None:
    """localstripe POSTs the events the webhook handles (as a Stripe endpoint subscribes to them), signed
    with `secret`, to `target_url`."""
    from shared.billing.events import HANDLED

    resp = _DIRECT.post(
        f"{base_url}/_config/webhooks/{WEBHOOK_ID}",
        json={"url": target_url, "secret": secret, "events": sorted(HANDLED)},
        auth=(LOCAL_STRIPE_KEY, ""),
        timeout=10,
    )
    resp.raise_for_status()


def provision_plans(base_url: str, settings: Settings) -> list[str]:
    """A Product per plan and a Plan per price id of the settings (what the Stripe Dashboard holds in
    production). Idempotent: existing ones are left alone. Returns the plan ids."""

    def post(path: str, data: dict[str, Any]) -> None:
        resp = _DIRECT.post(f"{base_url}/v1/{path}", data=data, auth=(LOCAL_STRIPE_KEY, ""), timeout=10)
        if resp.status_code != 409:  # 409: already there
            resp.raise_for_status()

    ids = []
    for name, plan in settings.plans.items():
        post("products", {"id": f"prod_{name}", "name": name.title(), "type": "service"})
        for period, price_id in plan.price_ids.items():
            months = 12 if period == "yearly" else 1
            post(
                "plans",
                {
                    "id": price_id,
                    "product": f"prod_{name}",
                    "amount": int(plan.amount_usd * 100 * months),
                    "currency": "usd",
                    "interval": "year" if period == "yearly" else "month",
                },
            )
            ids.append(price_id)
    return ids

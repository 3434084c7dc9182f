"""`ytempire accounts`: the YouTube account pool for operators — list, add, disable, enable, authorize.

Registered in shared/cli.py; reads and writes Firestore (and Secret Manager for `add`) with the
operator's own credentials, and calls the `oauth_start` function for `authorize`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any
from urllib.parse import urlsplit

import typer
from rich import box
from rich.console import Console
from rich.table import Table

accounts_app = typer.Typer(
    help="The YouTube account pool: rotation, quota, onboarding.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

LIST_FIELDS = (
    "account_id",
    "tier",
    "status",
    "pool",
    "score",
    "quota_used",
    "quota_remaining",
    "uploads_today",
    "error_rate",
    "hours_since_use",
)


def _container() -> Any:
    from shared.cli import _container as container

    return container()


def account_rows(c: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each account with the rotation's own inputs and score, and today's capacity by the rules."""
    from shared.chain.runner import utcnow
    from shared.youtube.quota import pool_capacity
    from shared.youtube.uploader import PoolView

    now = utcnow()
    candidates = PoolView(c.accounts, c.ledger, c.settings, utcnow).candidates(fresh=True)
    rows = [
        {
            "account_id": k.account_id,
            "tier": k.account.tier,
            "status": k.account.effective_status(now),
            "pool": k.account.pool,
            "score": round(k.score, 2),
            "quota_used": k.quota_used,
            "quota_remaining": k.quota_remaining,
            "uploads_today": k.uploads_today,
            "error_rate": round(k.account.error_rate, 4),
            "hours_since_use": round(k.hours_since_use, 2),
        }
        for k in candidates
    ]
    pools: dict[str, list[int]] = {}
    for k in candidates:
        caps = pools.setdefault(k.account.pool, [])
        if k.account.effective_status(now) == "healthy":
            caps.append(k.account.cap(c.settings))
    capacity = {
        pool: pool_capacity(c.ledger.profile(pool), c.settings.quota_binding, caps)
        for pool, caps in pools.items()
    }
    summary = {
        "day": c.ledger.today(),
        "binding": c.settings.quota_binding,
        "capacity_videos": sum(capacity.values()),
        "uploads_today": sum(r["uploads_today"] for r in rows),
    }
    return rows, summary


@accounts_app.command("list")
def accounts_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every account with its rotation score and the score's inputs; today's capacity."""
    rows, summary = account_rows(_container())
    if as_json:
        sys.stdout.write(json.dumps({"accounts": rows}, indent=2) + "\n")
        return
    table = Table(
        title=f"YouTube accounts — Pacific day {summary['day']}",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        collapse_padding=True,
    )
    short = ("account", "tier", "status", "pool", "score", "used", "left", "today", "errors", "idle h")
    for col, name in zip(LIST_FIELDS, short, strict=True):
        table.add_column(
            name, justify="left" if col in ("account_id", "tier", "status", "pool") else "right", no_wrap=True
        )
    for r in rows:
        idle = "-" if r["hours_since_use"] >= 24 * 365 else f"{r['hours_since_use']:.1f}"
        table.add_row(
            r["account_id"],
            r["tier"],
            r["status"].replace("_", " "),
            r["pool"],
            f"{r['score']:.1f}",
            str(r["quota_used"]),
            str(r["quota_remaining"]),
            str(r["uploads_today"]),
            f"{r['error_rate']:.0%}",
            idle,
        )
    out.print(table)
    out.print(
        f"uploads today {summary['uploads_today']} of a capacity of {summary['capacity_videos']} videos\n"
        f"(rules: quota_binding={summary['binding']}, account caps, each pool's profile)"
    )


@accounts_app.command("add")
def accounts_add(
    account_id: str,
    tier: str = typer.Option("active", help="active or reserve"),
    pool: str = typer.Option("default", help="the quota pool (OAuth client / Google Cloud project)"),
    cap: int | None = typer.Option(None, help="daily upload cap (default: the tier's, 5 active / 2 reserve)"),
    email: str | None = typer.Option(None, help="the Google account that owns the channel"),
) -> None:
    """Add an account to the pool; it is usable once `ytempire accounts authorize` has bound its channel."""
    from pydantic import ValidationError

    from shared.youtube.accounts import Account

    c = _container()
    try:
        account = Account(
            account_id=account_id,
            tier=tier,
            pool=pool,
            daily_upload_cap=cap,
            email=email,
            status="needs_reauth",
            status_reason="not authorised yet",
        )
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        err.print(f"[red]{'.'.join(map(str, first['loc']))}: {first['msg']}[/]")
        raise typer.Exit(2) from None
    if not c.accounts.add(account):
        err.print(f"[red]account {account_id} already exists[/]")
        raise typer.Exit(1)
    ensure = getattr(c.secrets, "ensure", None)
    if ensure is not None:  # the functions may add versions to token secrets, not create them
        ensure(f"{c.settings.token_secret_prefix}{account_id}")
    out.print(f"added {account_id} ({tier}, pool {pool}); next: ytempire accounts authorize {account_id}")


@accounts_app.command("disable")
def accounts_disable(account_id: str, reason: str = typer.Option("disabled by an operator")) -> None:
    """Take an account out of the rotation (uploads in flight on it finish)."""
    c = _container()
    if c.accounts.get(account_id) is None:
        err.print(f"[red]account {account_id} not found[/]")
        raise typer.Exit(1)
    c.accounts.set_status(account_id, "disabled", reason)
    out.print(f"{account_id} disabled")


@accounts_app.command("enable")
def accounts_enable(account_id: str) -> None:
    """Put a disabled or cooling-down account back (needs_reauth until it has a channel and a token)."""
    c = _container()
    account = c.accounts.get(account_id)
    if account is None:
        err.print(f"[red]account {account_id} not found[/]")
        raise typer.Exit(1)
    if account.status == "needs_reauth":
        err.print(f"[yellow]{account_id} needs re-authorisation: ytempire accounts authorize {account_id}[/]")
        raise typer.Exit(1)
    if account.channel_id:
        c.accounts.set_status(account_id, "healthy", None)
        out.print(f"{account_id} enabled")
    else:
        c.accounts.set_status(account_id, "needs_reauth", "not authorised yet")
        out.print(f"{account_id} has no channel yet: ytempire accounts authorize {account_id}")


def _function_url(c: Any, name: str) -> str:
    from infra.local.cloud import status
    from shared.cli import state_dir
    from shared.config import function_url

    state = status(state_dir())
    if state is not None and name in state.functions:
        return state.functions[name]
    return function_url(c.settings, name)


def _identity_headers(url: str) -> dict[str, str]:
    """An identity token for a private function in Google Cloud (not needed on loopback)."""
    token = os.environ.get("YTEMPIRE_ID_TOKEN", "")
    if not token and urlsplit(url).scheme == "https":
        try:
            import google.auth.transport.requests
            from google.oauth2 import id_token

            token = id_token.fetch_id_token(google.auth.transport.requests.Request(), url)
        except Exception:  # no service-account credentials here: try without (and say so on 401/403)
            token = ""
    return {"Authorization": f"Bearer {token}"} if token else {}


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


@accounts_app.command("authorize")
def accounts_authorize(
    account_id: str,
    follow: bool | None = typer.Option(
        None,
        "--follow/--no-follow",
        help="Follow the authorization URL here (default: only when it is the local sandbox's).",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Onboard an account: get the Google authorization URL from `oauth_start`; sign in as the channel's
    owner and consent, and `oauth_callback` stores the token and binds the channel. Locally the sandbox
    approves at once and this command follows the redirect itself."""
    import requests

    c = _container()
    start_url = _function_url(c, "oauth_start")
    resp = requests.post(
        start_url, json={"account_id": account_id}, headers=_identity_headers(start_url), timeout=30
    )
    if resp.status_code != 200:
        err.print(f"[red]oauth_start: HTTP {resp.status_code} {resp.text[:300]}[/]")
        raise typer.Exit(1)
    url = resp.json()["authorization_url"]
    if follow is None:
        follow = _is_loopback(url)
    if not follow:
        if as_json:
            sys.stdout.write(json.dumps({"account_id": account_id, "authorization_url": url}) + "\n")
        else:
            out.print(
                "Open this URL signed in as the channel's owner and consent; the callback binds the channel:"
            )
            out.print(url, soft_wrap=True)
        return
    consent = requests.get(url, allow_redirects=False, timeout=30)
    callback = consent.headers.get("Location")
    if consent.status_code not in (301, 302, 303) or not callback:
        err.print(f"[red]authorization endpoint: HTTP {consent.status_code} {consent.text[:300]}[/]")
        raise typer.Exit(1)
    done = requests.get(callback, timeout=60)
    if done.status_code != 200:
        err.print(f"[red]oauth_callback: HTTP {done.status_code} {done.text[:300]}[/]")
        raise typer.Exit(1)
    body = done.json()
    if as_json:
        sys.stdout.write(json.dumps(body) + "\n")
    else:
        out.print(f"{body['account_id']} authorised: channel {body['channel_id']} (pool {body['pool']})")

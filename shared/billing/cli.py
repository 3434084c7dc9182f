"""`ytempire billing`: customers and their plans, invoices, cancellation, and the seed's StripeService
operations (create a customer, a subscription, a one-time payment intent), plus the billing actions left
for manual processing. Every command a script may read has `--json`."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import typer

app = typer.Typer(help="Billing: Stripe customers, plans, invoices, cancellation.", no_args_is_help=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _container() -> Any:
    from shared.cli import _container as from_cli

    return from_cli()


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(message: str, code: int = 1) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[red]{message}[/]")
    raise typer.Exit(code)


def _run(call: Any) -> Any:
    """Operator-facing errors as one red line and an exit code (2: queued for manual processing)."""
    from shared.billing.plans import UnknownPlan
    from shared.billing.service import ManualProcessing
    from shared.billing.stripe_api import StripeRefused

    try:
        return call()
    except ManualProcessing as e:
        _fail(str(e), 2)
    except (StripeRefused, UnknownPlan, LookupError, ValueError) as e:
        _fail(str(e))


@app.command("plans")
def plans(
    check: bool = typer.Option(False, "--check", help="Compare each price id with Stripe's price."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The plans (settings): price, channels, videos per day, Stripe price ids."""
    from shared.billing import service

    c = _container()
    rows = service.plan_table(c.settings)
    problems = _run(lambda: service.check_prices(c.settings, stripe=c.stripe)) if check else []
    if as_json:
        _print_json({"plans": rows, **({"problems": problems} if check else {})})
    else:
        for r in rows:
            ids = ", ".join(f"{k} {v}" for k, v in r["price_ids"].items())
            limits = f"{r['channels']:>2} channels  {r['videos_per_day']:>2}/day"
            typer.echo(f"{r['plan']:8} ${r['amount_usd']:>4}  {limits}  {ids}")
        for p in problems:
            typer.echo(f"problem: {p}", err=True)
    if problems:
        raise typer.Exit(1)


@app.command("customers")
def customers(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every customer: plan, status, limits, period end."""
    from rich.console import Console
    from rich.table import Table

    from shared.billing.service import customers_view

    rows = customers_view(_container().billing)
    if as_json:
        _print_json({"customers": rows})
        return
    table = Table(title="customers")
    for col in ("customer", "plan", "status", "videos/day", "channels", "period end", "cancels"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["customer_id"],
            r["plan"] or "-",
            r["status"],
            str(r["videos_per_day"]),
            str(r["channels"]),
            (r["current_period_end"] or "-")[:16],
            "at period end" if r["cancel_at_period_end"] else "",
        )
    Console().print(table)


@app.command("invoices")
def invoices(
    customer_id: str,
    limit: int = typer.Option(10, min=1, max=100),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The customer's invoices from Stripe, newest first."""
    from shared.billing import service

    c = _container()
    rows = _run(
        lambda: service.list_invoices(
            customer_id, limit=limit, records=c.billing, stripe=c.stripe, now=_now()
        )
    )
    if as_json:
        _print_json({"invoices": rows})
        return
    for r in rows:
        typer.echo(
            f"{r['id']}  ${r['amount_usd']:>8}  {r['status']:6}  {r['date'] or ''}  {r['pdf_url'] or ''}"
        )


@app.command("cancel")
def cancel(
    customer_id: str,
    immediate: bool = typer.Option(
        False, "--immediate", help="End now: new requests stop at once (default: at the period end)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Cancel the customer's subscription at the period end (the plan holds until then) or at once."""
    from shared.billing import service

    c = _container()
    out = _run(
        lambda: service.cancel_subscription(
            customer_id, immediate=immediate, records=c.billing, stripe=c.stripe, now=_now()
        )
    )
    if as_json:
        _print_json(out)
    else:
        typer.echo(f"{out['subscription_id']}: {out['status']}")


@app.command("create-customer")
def create_customer(
    customer_id: str,
    email: str = typer.Option(..., "--email"),
    name: str | None = typer.Option(None, "--name"),
    test_card: bool = typer.Option(
        False, "--test-card", help="Attach Stripe's test card 4242… (test mode and localstripe only)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The customer's Stripe customer (created once)."""
    from shared.billing import service
    from shared.billing.service import idempotency_key

    c = _container()

    def go() -> dict[str, Any]:
        pm = None
        if test_card:
            pm = c.stripe.create_payment_method(
                {"type": "card", "card": service.TEST_CARD},
                idempotency_key=idempotency_key("pm", customer_id, time.time()),
            )["id"]
        return service.create_customer(
            customer_id,
            email=email,
            name=name,
            payment_method=pm,
            records=c.billing,
            stripe=c.stripe,
            now=_now(),
        )

    out = _run(go)
    if as_json:
        _print_json(out)
    else:
        typer.echo(f"{customer_id} → {out['stripe_customer_id']}")


@app.command("subscribe")
def subscribe(
    customer_id: str,
    plan: str = typer.Option(..., "--plan"),
    period: str = typer.Option("monthly", "--period"),
    payment_behavior: str = typer.Option(
        "default_incomplete",
        "--payment-behavior",
        help="default_incomplete (pay with the returned client secret) or allow_incomplete (charge the "
        "default payment method now; localstripe knows only this one)",
    ),
    wait_s: float = typer.Option(0, "--wait-s", help="Wait this long for the webhooks to activate the plan."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a subscription; its entitlements arrive through the webhook."""
    from shared.billing import service

    c = _container()
    out = _run(
        lambda: service.create_subscription(
            customer_id,
            plan=plan,
            period=period,
            payment_behavior=payment_behavior,
            records=c.billing,
            stripe=c.stripe,
            settings=c.settings,
            now=_now(),
        )
    )
    if wait_s > 0:
        out["entitled"] = service.wait_for_plan(
            c.billing, customer_id, out["subscription_id"], timeout_s=wait_s
        )
    if as_json:
        _print_json(out)
    else:
        typer.echo(f"{out['subscription_id']}: {out['status']}")


@app.command("payment-intent")
def payment_intent(
    customer_id: str,
    amount_cents: int = typer.Option(..., "--amount-cents", min=50),
    currency: str = typer.Option("usd", "--currency"),
    key: str | None = typer.Option(None, "--idempotency-key"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A one-time payment intent; prints its client secret."""
    from shared.billing import service

    c = _container()
    out = _run(
        lambda: service.create_payment_intent(
            customer_id,
            amount_cents=amount_cents,
            currency=currency,
            key=key,
            records=c.billing,
            stripe=c.stripe,
            now=_now(),
        )
    )
    if as_json:
        _print_json(out)
    else:
        typer.echo(f"{out['payment_intent_id']} {out['amount']} {out['client_secret']}")


@app.command("actions")
def actions(as_json: bool = typer.Option(False, "--json")) -> None:
    """Stripe operations that failed after their retries, waiting for manual processing."""
    rows = sorted(_container().billing.actions(), key=lambda a: str(a.get("created_at")))
    if as_json:
        _print_json({"actions": rows})
        return
    for a in rows:
        who = a.get("customer_id") or ""
        typer.echo(f"{a['action_id'][:12]}  {a['status']:8} {a['operation']:24} {who}  {a['error']}")

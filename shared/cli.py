"""`ytempire`: the operator's command line (local cloud, jobs, demo).

Every command that a script may read has `--json`; long commands show progress on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from shared.billing.cli import app as billing_app
from shared.youtube.cli import accounts_app

app = typer.Typer(
    help="YTEMPIRE integrations: operate the video chain and its local cloud.",
    no_args_is_help=True,
    add_completion=False,
)
local_app = typer.Typer(
    help="The local cloud: emulators, sandboxes and the functions, on loopback.", no_args_is_help=True
)
jobs_app = typer.Typer(help="Video jobs.", no_args_is_help=True)
app.add_typer(local_app, name="local")
app.add_typer(jobs_app, name="jobs")
app.add_typer(billing_app, name="billing")
app.add_typer(accounts_app, name="accounts")

out = Console()
err = Console(stderr=True)
REPO = Path(__file__).resolve().parents[1]


def state_dir() -> Path:
    """Where `local up` records what it started (YTEMPIRE_LOCAL_STATE_DIR, default .local/)."""
    return Path(os.environ.get("YTEMPIRE_LOCAL_STATE_DIR") or REPO / ".local")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _container() -> Any:
    """Settings from the environment, pointed at the local cloud when one is running."""
    from infra.local.cloud import status
    from shared.bootstrap import Container
    from shared.config import Settings

    state = status(state_dir())
    if state is not None and all(c["running"] for c in state.components.values()):
        for key, value in state.env.items():
            os.environ.setdefault(key, value)
    return Container(Settings())


# --- local ------------------------------------------------------------------------------------------------
def _provision(env: dict[str, str]) -> None:
    """What Terraform does in production: the queues (one per step) and the media bucket."""
    from shared.bootstrap import Container
    from shared.config import STEPS, Settings

    c = Container(Settings(**{k.removeprefix("YTEMPIRE_").lower(): v for k, v in env.items()}))
    c.queue.ensure_queues(STEPS)
    c.blobs.exists(f"gs://{c.settings.media_bucket}/.provisioned")


def _status_json(state: Any) -> dict[str, Any]:
    data = {
        "components": {
            name: {"url": comp["url"], "running": comp["running"]} for name, comp in state.components.items()
        },
        "functions": state.functions,
    }
    # Local cloud only: lets a script sign its own events for the local stripe_webhook.
    if state.env.get("YTEMPIRE_STRIPE_WEBHOOK_SECRET"):
        data["stripe_webhook_secret"] = state.env["YTEMPIRE_STRIPE_WEBHOOK_SECRET"]
    return data


@local_app.command("up")
def local_up(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON when ready."),
) -> None:
    """Start the local cloud (only what is not running yet) and create its queues and bucket."""
    from infra.local.cloud import status, up
    from infra.local.emulators import EmulatorNotInstalledError
    from infra.local.processes import ProcessStartError

    try:
        state, started = up(state_dir(), progress=lambda m: err.print(f"[dim]local:[/] {m}"))
    except (EmulatorNotInstalledError, ProcessStartError) as e:
        err.print(f"[red]local cloud did not start:[/] {e}")
        raise typer.Exit(1) from None
    if started:
        _provision(state.env)
    state = status(state_dir())
    if as_json:
        _print_json(_status_json(state))
    else:
        _show_status(state)


@local_app.command("down")
def local_down(as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop exactly what `local up` started."""
    from infra.local.cloud import down

    stopped = down(state_dir(), progress=lambda m: err.print(f"[dim]local:[/] {m}"))
    if as_json:
        _print_json({"stopped": stopped})
    else:
        out.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@local_app.command("status")
def local_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Each component with its address and whether it runs; the function URLs."""
    from infra.local.cloud import status

    state = status(state_dir())
    if state is None:
        if as_json:
            _print_json({"components": {}, "functions": {}})
        else:
            out.print("the local cloud is not running: `ytempire local up`")
        raise typer.Exit(0)
    if as_json:
        _print_json(_status_json(state))
    else:
        _show_status(state)


def _show_status(state: Any) -> None:
    table = Table(title="local cloud")
    table.add_column("component")
    table.add_column("url")
    table.add_column("running")
    for name, comp in state.components.items():
        table.add_row(name, comp["url"] or "", "[green]yes[/]" if comp["running"] else "[red]no[/]")
    out.print(table)
    for ep, url in state.functions.items():
        out.print(f"  {ep:16} {url}")


# --- jobs -------------------------------------------------------------------------------------------------
@jobs_app.command("show")
def jobs_show(job_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A job with, per step: status, attempts, provider, outputs and cost."""
    from shared.chain.jobs import public_view

    doc = _container().jobs.get(job_id)
    if doc is None:
        err.print(f"[red]job {job_id} not found[/]")
        raise typer.Exit(1)
    view = public_view(doc)
    if as_json:
        _print_json(view)
        return
    out.print(
        f"[bold]{view['job_id']}[/]  status [bold]{view['status']}[/]  cost ${view['total_cost_usd']}  "
        f"account {view['account_id'] or '-'}  video {view['youtube_video_id'] or '-'}"
    )
    if view["failure"]:
        out.print(f"[red]failed at {view['failure']['step']}: {view['failure']['reason']}[/]")
    table = Table()
    for col in ("step", "status", "attempts", "provider", "cost", "outputs"):
        table.add_column(col)
    for name, s in view["steps"].items():
        outputs = ", ".join(f"{k}={v}" for k, v in s["outputs"].items() if not isinstance(v, list | dict))
        table.add_row(name, s["status"], str(s["attempts"]), s["provider"] or "", s["cost_usd"], outputs[:90])
    out.print(table)


@jobs_app.command("list")
def jobs_list(
    limit: int = typer.Option(20, min=1, max=500), as_json: bool = typer.Option(False, "--json")
) -> None:
    """The newest jobs."""
    from shared.chain.jobs import public_view

    views = [public_view(d) for d in _container().jobs.list_jobs(limit)]
    if as_json:
        _print_json(
            {
                "jobs": [
                    {
                        k: v[k]
                        for k in ("job_id", "status", "total_cost_usd", "youtube_video_id", "created_at")
                    }
                    for v in views
                ]
            }
        )
        return
    for v in views:
        out.print(f"{v['job_id']}  {v['status']:10} ${v['total_cost_usd']}  {v['youtube_video_id'] or ''}")


# --- demo -------------------------------------------------------------------------------------------------
@app.command("demo")
def demo(
    videos: int = typer.Option(2, "--videos", min=1, max=20, help="How many video requests to submit."),
    duration_s: int = typer.Option(30, "--duration-s", min=10, max=600, help="Target length of each video."),
    timeout_s: float = typer.Option(900, "--timeout-s", help="Give up waiting after this long."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the jobs."),
) -> None:
    """Start the local cloud if needed, seed the 15-account pool and a customer, make videos end to end."""
    from shared import demo as d

    t0 = time.monotonic()
    from infra.local.cloud import status, up

    state, started = up(state_dir(), progress=lambda m: err.print(f"[dim]local:[/] {m}"))
    if started:
        _provision(state.env)
    state = status(state_dir())
    c = _container()
    d.seed(c)
    job_ids = d.submit(state.functions, videos, duration_s=duration_s)
    err.print(f"submitted {len(job_ids)} video requests")

    last: dict[str, str] = {}

    def show(views: dict[str, dict[str, Any]]) -> None:
        for job_id, v in views.items():
            line = f"{job_id[:8]} {v['status']:9} {d.step_marks(v)}"
            if last.get(job_id) != line:
                err.print(line)
                last[job_id] = line

    views = d.follow(state.functions, job_ids, timeout_s=timeout_s, on_update=show)
    reports = d.collect(c, views, state_dir() / "videos")
    elapsed = round(time.monotonic() - t0, 2)
    if as_json:
        _print_json({"jobs": [r.to_json() for r in reports], "elapsed_s": elapsed})
    else:
        table = Table(
            title=f"demo: {sum(r.status == 'published' for r in reports)}/{len(reports)} published "
            f"in {elapsed:.1f} s"
        )
        for col in ("job", "status", "youtube id", "duration", "cost", "account"):
            table.add_column(col)
        for r in reports:
            table.add_row(
                r.job_id[:8],
                r.status,
                r.youtube_video_id or "-",
                f"{r.duration_s:.1f} s" if r.duration_s else "-",
                f"${r.cost_usd}",
                r.account_id or "-",
            )
        out.print(table)
        for r in reports:
            if r.local_path:
                out.print(f"{r.job_id[:8]}  {r.local_path}", soft_wrap=True)
    if any(r.status != "published" for r in reports):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""`ytempire accounts` against the local stack: the demo's pool, add → authorize (through the real
oauth_start / oauth_callback functions over HTTP and the sandbox's authorization endpoint) → list,
disable, enable. Runs in its own collection prefix so the chain tests' pool is untouched."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from infra.local.cloud import settings_env
from shared import bootstrap, demo
from shared.cli import app
from shared.youtube.cli import LIST_FIELDS

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(stack, tmp_path):
    prefix = f"cli{uuid.uuid4().hex[:6]}-"
    c = bootstrap.Container(stack.settings.model_copy(update={"collection_prefix": prefix}))
    bootstrap.use(c)  # the functions host serves with this container
    env = {
        **settings_env(stack.urls),
        "YTEMPIRE_COLLECTION_PREFIX": prefix,
        "YTEMPIRE_LOCAL_STATE_DIR": str(tmp_path / "no-local-cloud"),
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return result.stdout

    yield run, c
    bootstrap.use(stack.container())


def accounts(run) -> dict[str, dict]:
    rows = json.loads(run("accounts", "list", "--json"))["accounts"]
    assert all(tuple(r) == LIST_FIELDS for r in rows)  # exactly these fields, in this order
    return {r["account_id"]: r for r in rows}


def test_the_demo_seeds_the_seeds_pool_of_fifteen(cli) -> None:
    run, c = cli
    demo.seed(c)
    demo.seed(c)  # idempotent
    rows = accounts(run)
    assert len(rows) == 15
    assert sum(r["tier"] == "active" for r in rows.values()) == 12
    assert sum(r["tier"] == "reserve" for r in rows.values()) == 3
    assert len({r["pool"] for r in rows.values()}) == 15 and {r["status"] for r in rows.values()} == {
        "healthy"
    }
    fresh = rows["yt-01"]
    assert (fresh["quota_used"], fresh["quota_remaining"], fresh["uploads_today"]) == (1, 9999, 0)
    assert (fresh["score"], rows["yt-15"]["score"]) == (100.0, 10.0)  # 99.996 and 9.9996, to 2 places
    assert "capacity of 54 videos" in run("accounts", "list").replace("\n", " ")


def test_add_authorize_list_disable_enable(cli) -> None:
    run, c = cli
    run("accounts", "add", "cli-01", "--pool", "pool-03", "--email", "owner@example.com")
    run("accounts", "add", "cli-01", code=1)  # already there
    run("accounts", "add", "Not Valid", code=2)
    assert accounts(run)["cli-01"]["status"] == "needs_reauth"

    printed = json.loads(run("accounts", "authorize", "cli-01", "--no-follow", "--json"))
    assert "code_challenge_method=S256" in printed["authorization_url"]
    done = json.loads(run("accounts", "authorize", "cli-01", "--json"))
    assert done["account_id"] == "cli-01" and done["status"] == "authorized" and done["pool"] == "pool-03"
    row = accounts(run)["cli-01"]
    assert (row["status"], row["tier"], row["pool"], row["uploads_today"]) == (
        "healthy",
        "active",
        "pool-03",
        0,
    )
    assert c.accounts.get("cli-01").channel_id == done["channel_id"]

    run("accounts", "disable", "cli-01", "--reason", "owner asked")
    assert accounts(run)["cli-01"]["status"] == "disabled"
    run("accounts", "authorize", "cli-01", code=1)  # a disabled account is not onboarded
    run("accounts", "enable", "cli-01")
    assert accounts(run)["cli-01"]["status"] == "healthy"
    run("accounts", "disable", "nobody", code=1)
    run("accounts", "enable", "nobody", code=1)
    run("accounts", "add", "cli-02", "--tier", "reserve")
    run("accounts", "enable", "cli-02", code=1)  # never authorised: it needs authorize, not enable

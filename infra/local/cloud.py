"""The local cloud: Google's emulators, the sandbox servers and the functions host, on loopback.

`up` starts what is not running and records it in `.local/cloud.json`; `down` stops exactly what `up`
started (each component's whole process group); `status` reads the record and checks each address.
The record also holds the `YTEMPIRE_*` environment that points the project's settings at it.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local import emulators, local_stripe
from infra.local.functions_host import entry_points
from infra.local.processes import ManagedProcess, free_port, group_alive, http_ready, stop_process_group

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO / ".local"
HOST = "127.0.0.1"
PROJECT = "ytempire-local"
SANDBOXES = ("youtube", "openai", "tts", "stock", "elevenlabs", "pixabay", "unsplash", "shutterstock")
# Local-only credentials the sandboxes accept; not secrets (nothing real sits behind them).
LOCAL_OPENAI_KEY = "sk-local-sandbox"
LOCAL_PEXELS_KEY = "pexels-local-sandbox"
LOCAL_ELEVENLABS_KEY = "elevenlabs-local-sandbox"
LOCAL_PIXABAY_KEY = "pixabay-local-sandbox"
LOCAL_UNSPLASH_KEY = "unsplash-local-sandbox"
LOCAL_SHUTTERSTOCK_TOKEN = "shutterstock-local-sandbox"
LOCAL_OAUTH_CLIENT_ID = "local-client.apps.googleusercontent.com"
LOCAL_OAUTH_CLIENT_SECRET = "local-client-secret"
LOCAL_OAUTH_STATE_SECRET = "local-oauth-state-signing-key"
# The seed's picture of quota: 15 accounts, each authorised through its own OAuth client (project), so
# each draws on its own 10,000 units a day. Pools pool-01 .. pool-15, one OAuth client each.
LOCAL_QUOTA_POOLS = 15


def local_oauth_clients(pools: int = LOCAL_QUOTA_POOLS) -> dict[str, str]:
    return {f"pool-{i:02d}": f"local-client-{i:02d}.apps.googleusercontent.com" for i in range(1, pools + 1)}


Progress = Callable[[str], None]


@dataclass
class CloudState:
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    state_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "components": self.components,
            "functions": self.functions,
            "env": self.env,
            "state_dir": self.state_dir,
        }


def new_webhook_secret() -> str:
    """A fresh signing secret per local cloud (Stripe's look: whsec_...)."""
    return f"whsec_local{secrets.token_hex(16)}"


def settings_env(
    urls: dict[str, str],
    *,
    project: str = PROJECT,
    task_max_attempts: int = 5,
    stripe_webhook_secret: str | None = None,
) -> dict[str, str]:
    """The `YTEMPIRE_*` environment that points the settings at the local components."""
    strip = lambda u: u.removeprefix("http://")  # noqa: E731
    stripe_env = (
        {
            "YTEMPIRE_STRIPE_API_BASE": urls["stripe"],
            "YTEMPIRE_STRIPE_API_KEY": local_stripe.LOCAL_STRIPE_KEY,
            "YTEMPIRE_STRIPE_WEBHOOK_SECRET": stripe_webhook_secret or new_webhook_secret(),
            "YTEMPIRE_STRIPE_LEGACY_API": "true",  # localstripe speaks the 2017 API
        }
        if "stripe" in urls
        else {}
    )
    return stripe_env | {
        "YTEMPIRE_PROJECT_ID": project,
        "YTEMPIRE_FIRESTORE_EMULATOR_HOST": strip(urls["firestore"]),
        "YTEMPIRE_TASKS_EMULATOR_HOST": strip(urls["tasks"]),
        "YTEMPIRE_STORAGE_EMULATOR_HOST": strip(urls["storage"]),
        "YTEMPIRE_SECRETMANAGER_ENDPOINT": urls["secretmanager"],
        "YTEMPIRE_FUNCTIONS_BASE_URL": urls["functions"],
        "YTEMPIRE_TASK_MAX_ATTEMPTS": str(task_max_attempts),
        "YTEMPIRE_OPENAI_BASE_URL": f"{urls['openai']}/v1",
        "YTEMPIRE_OPENAI_API_KEY": LOCAL_OPENAI_KEY,
        "YTEMPIRE_TTS_ENDPOINT": urls["tts"],
        "YTEMPIRE_PEXELS_BASE_URL": urls["stock"],
        "YTEMPIRE_PEXELS_API_KEY": LOCAL_PEXELS_KEY,
        "YTEMPIRE_ELEVENLABS_BASE_URL": urls["elevenlabs"],
        "YTEMPIRE_ELEVENLABS_API_KEY": LOCAL_ELEVENLABS_KEY,
        "YTEMPIRE_PIXABAY_BASE_URL": urls["pixabay"],
        "YTEMPIRE_PIXABAY_API_KEY": LOCAL_PIXABAY_KEY,
        "YTEMPIRE_UNSPLASH_BASE_URL": urls["unsplash"],
        "YTEMPIRE_UNSPLASH_ACCESS_KEY": LOCAL_UNSPLASH_KEY,
        "YTEMPIRE_SHUTTERSTOCK_BASE_URL": urls["shutterstock"],
        "YTEMPIRE_SHUTTERSTOCK_API_TOKEN": LOCAL_SHUTTERSTOCK_TOKEN,
        "YTEMPIRE_YOUTUBE_API_BASE_URL": urls["youtube"],
        "YTEMPIRE_YOUTUBE_TOKEN_URI": f"{urls['youtube']}/token",
        "YTEMPIRE_YOUTUBE_AUTH_URI": f"{urls['youtube']}/o/oauth2/auth",
        "YTEMPIRE_YOUTUBE_CLIENT_ID": LOCAL_OAUTH_CLIENT_ID,
        "YTEMPIRE_YOUTUBE_CLIENT_SECRET": LOCAL_OAUTH_CLIENT_SECRET,
        "YTEMPIRE_YOUTUBE_OAUTH_CLIENTS": json.dumps(local_oauth_clients()),
        "YTEMPIRE_YOUTUBE_ANALYTICS_BASE_URL": urls["youtube"],
        "YTEMPIRE_OAUTH_STATE_SECRET": LOCAL_OAUTH_STATE_SECRET,
    }


def state_path(state_dir: Path) -> Path:
    return state_dir / "cloud.json"


def read_state(state_dir: Path = DEFAULT_STATE_DIR) -> CloudState | None:
    path = state_path(state_dir)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return CloudState(
        data["components"], data["functions"], data["env"], data.get("state_dir", str(state_dir))
    )


def start_ticks(pid: int) -> int | None:
    """When the kernel started `pid` (clock ticks since boot): with the pid, a process's identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22 of proc(5), counted after "(comm)"


def _alive(component: dict[str, Any]) -> bool:
    """The recorded group still runs, and its leader is the process `up` started (pids get reused)."""
    pgid = component.get("pgid")
    return bool(pgid) and group_alive(pgid) and start_ticks(pgid) == component.get("start_ticks")


def status(state_dir: Path = DEFAULT_STATE_DIR) -> CloudState | None:
    state = read_state(state_dir)
    if state is None:
        return None
    for comp in state.components.values():
        comp["running"] = _alive(comp)
    return state


def _python_process(
    name: str,
    module: str,
    args: list[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    ready_url: str,
    ready_timeout_s: float = 60.0,
) -> ManagedProcess:
    return ManagedProcess(
        name,
        [sys.executable, "-m", module, *args],
        log_path=log_dir / f"{name}.log",
        ready=lambda: http_ready(ready_url),
        ready_timeout_s=ready_timeout_s,
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=REPO,
    )


def up(
    state_dir: Path = DEFAULT_STATE_DIR,
    *,
    progress: Progress = lambda _m: None,
    with_functions: bool = True,
    functions_port: int | None = None,
    task_max_attempts: int = 5,
    detach: bool = True,
) -> tuple[CloudState, list[ManagedProcess]]:
    """Start every component not already running; returns the state and the processes started now.

    With `detach`, the processes outlive this Python process (`ytempire local up`); without, they are
    stopped when it exits or when the caller stops them (tests).
    """
    current = status(state_dir)
    if current is not None and current.components and all(c["running"] for c in current.components.values()):
        progress("local cloud already running")
        return current, []
    if current is not None:
        down(state_dir, progress=progress)

    log_dir = state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ports = {
        name: free_port(HOST)
        for name in ("firestore", "tasks", "storage", "secretmanager", "stripe", *SANDBOXES)
    }
    ports["functions"] = functions_port or free_port(HOST)
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    env = settings_env(urls, task_max_attempts=task_max_attempts)
    started: list[ManagedProcess] = []
    try:
        steps: list[tuple[str, Callable[[], ManagedProcess]]] = [
            ("firestore", lambda: emulators.start_firestore(ports["firestore"], log_dir)),
            # Cloud Tasks retries a failing task up to max_attempts in all; the emulator counts retries.
            (
                "tasks",
                lambda: emulators.start_tasks(ports["tasks"], log_dir, max_retries=task_max_attempts - 1),
            ),
            ("storage", lambda: emulators.start_storage(ports["storage"], log_dir)),
            ("secretmanager", lambda: emulators.start_secret_manager(ports["secretmanager"], log_dir)),
            ("stripe", lambda: local_stripe.start_localstripe(ports["stripe"], log_dir)),
            (
                "sandboxes",
                lambda: (
                    _python_process(
                        "sandboxes",
                        "infra.local.sandbox_host",
                        [a for s in SANDBOXES for a in ("--port", f"{s}={ports[s]}")],
                        env={},
                        log_dir=log_dir,
                        ready_url=f"{urls[SANDBOXES[-1]]}/_control/health",  # started last
                    )
                    .start()
                    .wait_ready()
                ),
            ),
        ]
        if with_functions:
            steps.append(
                (
                    "functions",
                    lambda: (
                        _python_process(
                            "functions",
                            "infra.local.functions_host",
                            ["--port", str(ports["functions"])],
                            env=env,
                            log_dir=log_dir,
                            ready_url=f"{urls['functions']}/job_status",
                        )
                        .start()
                        .wait_ready()
                    ),
                )
            )
        for name, start in steps:
            t0 = time.monotonic()
            progress(f"starting {name} …")
            started.append(start())
            progress(f"{name} ready in {time.monotonic() - t0:.1f} s")
        # What the Stripe Dashboard holds in production: the prices (as Plans) and the webhook endpoint.
        local_stripe.provision_plans(urls["stripe"], _settings_of(env))
        local_stripe.register_webhook(
            urls["stripe"], f"{urls['functions']}/stripe_webhook", env["YTEMPIRE_STRIPE_WEBHOOK_SECRET"]
        )
    except Exception:
        for proc in reversed(started):
            proc.stop()
        raise

    components: dict[str, dict[str, Any]] = {}
    for proc in started:
        name = proc.name.removesuffix("-emulator")
        url_key = name if name in urls else None
        entry: dict[str, Any] = {
            "url": urls.get(url_key) if url_key else None,
            "pid": proc.pid,
            "pgid": proc.pid,
            "start_ticks": start_ticks(proc.pid),
            "log": str(proc.log_path),
            "running": True,
        }
        if name == "sandboxes":
            entry["urls"] = {s: urls[s] for s in SANDBOXES}
            entry["url"] = urls["youtube"]
        components[name] = entry
    for s in SANDBOXES:
        components[f"sandbox_{s}"] = {**components["sandboxes"], "url": urls[s], "part_of": "sandboxes"}
        components[f"sandbox_{s}"].pop("urls", None)
    functions = {ep: f"{urls['functions']}/{ep}" for ep in entry_points()} if with_functions else {}
    state = CloudState(components, functions, env, str(state_dir))
    if detach:
        for proc in started:
            proc.detach()
        state_path(state_dir).write_text(json.dumps(state.to_json(), indent=2))
    return state, started


def _settings_of(env: dict[str, str]) -> Any:
    from shared.config import Settings

    return Settings(**{k.removeprefix("YTEMPIRE_").lower(): v for k, v in env.items()})


def down(state_dir: Path = DEFAULT_STATE_DIR, *, progress: Progress = lambda _m: None) -> list[str]:
    """Stop every process group `up` recorded; returns the names stopped."""
    state = read_state(state_dir)
    if state is None:
        return []
    stopped = []
    seen: set[int] = set()
    for name, comp in state.components.items():
        pgid = comp.get("pgid")
        if not pgid or pgid in seen or comp.get("part_of"):
            continue
        seen.add(pgid)
        if _alive(comp):
            progress(f"stopping {name} …")
            stop_process_group(pgid)
            stopped.append(name)
    state_path(state_dir).unlink(missing_ok=True)
    return stopped

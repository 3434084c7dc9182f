"""The local stack for integration and e2e tests, built the way `ytempire local up` builds it, except
that the sandboxes and the functions host run in this process (so a test can install a container with
other adapters) while the Google emulators run as child processes on free ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from infra.local.cloud import settings_env
from infra.local.processes import free_port
from infra.sandboxes.base import ServerThread
from shared import bootstrap
from shared.bootstrap import Container
from shared.config import STEPS, Settings

SANDBOX_MODULES = {
    "youtube": "infra.sandboxes.youtube",
    "openai": "infra.sandboxes.openai_api",
    "tts": "infra.sandboxes.tts",
    "stock": "infra.sandboxes.stock",
    "elevenlabs": "infra.sandboxes.elevenlabs",
    "pixabay": "infra.sandboxes.pixabay",
    "unsplash": "infra.sandboxes.unsplash",
    "shutterstock": "infra.sandboxes.shutterstock",
}


@dataclass
class Stack:
    settings: Settings
    urls: dict[str, str]
    functions: dict[str, str]
    servers: list[ServerThread] = field(default_factory=list)

    def container(self, **overrides: Any) -> Container:
        return Container(self.settings, **overrides)

    def sandbox(self, name: str) -> str:
        return self.urls[name]

    def fault(self, sandbox: str, **fault: Any) -> None:
        requests.post(f"{self.urls[sandbox]}/_control/faults", json=fault, timeout=5).raise_for_status()

    def calls(self, sandbox: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.urls[sandbox]}/_control/calls", timeout=5).json()["calls"]

    def reset_sandboxes(self) -> None:
        for name in SANDBOX_MODULES:
            requests.post(f"{self.urls[name]}/_control/reset", timeout=5).raise_for_status()


def build_settings(urls: dict[str, str], **overrides: Any) -> Settings:
    env = settings_env(urls, task_max_attempts=overrides.pop("task_max_attempts", 3))
    values = {k.removeprefix("YTEMPIRE_").lower(): v for k, v in env.items()}
    values.update(media_bucket="ytempire-test-media")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[dict[str, str]]:
    import importlib

    servers = [
        ServerThread(importlib.import_module(mod).create_app()).start() for mod in SANDBOX_MODULES.values()
    ]
    yield {name: s.url for name, s in zip(SANDBOX_MODULES, servers, strict=True)}
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def stack(
    firestore_emulator,
    chain_tasks_emulator,
    storage_emulator,
    secret_manager_emulator,
    localstripe_emulator,
    sandboxes,
) -> Iterator[Stack]:
    """Everything up, queues created, the functions served over HTTP from this process; localstripe
    with the plans and its webhook registered to this stack's stripe_webhook."""
    from infra.local.functions_host import build_app, entry_points
    from infra.local.local_stripe import provision_plans, register_webhook

    functions_port = free_port()
    urls = {
        "firestore": f"http://{firestore_emulator.host_port}",
        "tasks": f"http://{chain_tasks_emulator.host_port}",
        "storage": f"http://{storage_emulator.host_port}",
        "secretmanager": secret_manager_emulator.url,
        "stripe": localstripe_emulator.url,
        "functions": f"http://127.0.0.1:{functions_port}",
        **sandboxes,
    }
    settings = build_settings(urls)
    c = Container(settings)
    c.queue.ensure_queues(STEPS)
    bootstrap.use(c)
    host = ServerThread(build_app(), "127.0.0.1", functions_port).start()
    functions = {ep: f"{urls['functions']}/{ep}" for ep in entry_points()}
    provision_plans(urls["stripe"], settings)
    register_webhook(
        urls["stripe"], functions["stripe_webhook"], settings.stripe_webhook_secret.get_secret_value()
    )
    try:
        yield Stack(settings, urls, functions, [host])
    finally:
        host.stop()
        bootstrap.use(None)


@pytest.fixture(scope="session")
def chain_tasks_emulator(tmp_path_factory):
    """The Cloud Tasks emulator giving up after the chain's max attempts, as Cloud Tasks would."""
    from infra.local.emulators import start_tasks

    proc = start_tasks(log_dir=tmp_path_factory.mktemp("tasks-logs"), max_retries=2)
    try:
        yield proc
    finally:
        proc.stop()

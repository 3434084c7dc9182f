"""Pytest plugin: the Google Cloud emulators as session fixtures (load with
`pytest_plugins = ["tests.cloud_fixtures"]`).

Each emulator starts on a free loopback port the first time a test asks for it, and stops (its whole
process group) at the end of the session, whatever happened. A session that never asks for one never
starts it. Each fixture yields an `EmulatorProcess` with `host_port` ("127.0.0.1:PORT") and `url`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from infra.local.emulators import (
    EmulatorProcess,
    reset_firestore,
    start_firestore,
    start_secret_manager,
    start_storage,
    start_tasks,
)
from shared.config import Settings

# The project the tests' Settings use unless they say otherwise; clean_firestore resets this one.
EMULATOR_PROJECT: str = Settings.model_fields["project_id"].default


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"received signal {signum}")


@pytest.fixture(scope="session")
def emulator_log_dir(tmp_path_factory: pytest.TempPathFactory):
    """Where the emulators write their output; asked for by every emulator fixture, so it also makes a
    test run killed with SIGTERM (CI cancel, `timeout`) unwind like Ctrl-C: the finalizers then stop
    the emulators instead of leaving them orphaned."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, _interrupt)
    return tmp_path_factory.mktemp("emulator-logs")


@pytest.fixture(scope="session")
def firestore_emulator(emulator_log_dir) -> Iterator[EmulatorProcess]:
    process = start_firestore(log_dir=emulator_log_dir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def tasks_emulator(emulator_log_dir) -> Iterator[EmulatorProcess]:
    process = start_tasks(log_dir=emulator_log_dir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def storage_emulator(emulator_log_dir) -> Iterator[EmulatorProcess]:
    process = start_storage(log_dir=emulator_log_dir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def secret_manager_emulator(emulator_log_dir) -> Iterator[EmulatorProcess]:
    process = start_secret_manager(log_dir=emulator_log_dir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def localstripe_emulator(emulator_log_dir) -> Iterator[EmulatorProcess]:
    from infra.local.local_stripe import start_localstripe

    process = start_localstripe(log_dir=emulator_log_dir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def clean_firestore(firestore_emulator: EmulatorProcess) -> EmulatorProcess:
    """The Firestore emulator with no documents in EMULATOR_PROJECT's default database."""
    reset_firestore(firestore_emulator.host_port, EMULATOR_PROJECT)
    return firestore_emulator

"""Test-wide fixtures: environment isolation, and the emulator fixtures of tests/cloud_fixtures.py."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.cloud_fixtures", "tests.stack"]

_CLOUD_VARS = (
    "FIRESTORE_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
)


@pytest.fixture(autouse=True)
def _isolated_environment():
    """No test sees the developer's YTEMPIRE_* or cloud variables; whatever a test sets is undone."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("YTEMPIRE_") or key in _CLOUD_VARS:
            del os.environ[key]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)

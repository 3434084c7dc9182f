"""Managed child processes: readiness, clear start errors, and a stop that leaves nothing behind."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from infra.local.emulators import (
    EmulatorNotInstalledError,
    start_firestore,
    start_secret_manager,
    start_storage,
    start_tasks,
)
from infra.local.processes import (
    ManagedProcess,
    ProcessStartError,
    free_port,
    group_alive,
    http_ready,
    stop_process_group,
    tcp_ready,
)

PY = sys.executable

# A child that starts a grandchild (which ignores SIGTERM, like a JVM busy shutting down) and records
# its pid; both share the child's process group.
PARENT_OF_STUBBORN_GRANDCHILD = """
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(grandchild.pid))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def wait_until(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def managed(tmp_path):
    """Build ManagedProcesses whose groups are stopped after the test, whatever it did."""
    made: list[ManagedProcess] = []

    def make(name, argv, **kwargs) -> ManagedProcess:
        kwargs.setdefault("log_path", tmp_path / f"{name}.log")
        kwargs.setdefault("ready", lambda: True)
        process = ManagedProcess(name, argv, **kwargs)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop(grace_s=0.5)


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_http_server_child_becomes_ready_and_stop_frees_its_port(managed, tmp_path):
    port = free_port()
    (tmp_path / "hello.txt").write_text("hi")
    url = f"http://127.0.0.1:{port}/hello.txt"
    server = managed(
        "http-server",
        [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        ready=functools.partial(http_ready, url),
        ready_timeout_s=20,
    )
    assert not tcp_ready("127.0.0.1", port)

    server.start().wait_ready()

    assert server.running and server.pid
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as response:
        assert response.read() == b"hi"
    server.stop()
    assert not server.running
    assert not tcp_ready("127.0.0.1", port)
    assert not alive(server.pid)


def test_stop_kills_the_whole_group_including_a_grandchild_that_ignores_sigterm(managed, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    parent = managed(
        "parent",
        [PY, "-c", PARENT_OF_STUBBORN_GRANDCHILD, str(pid_file)],
        ready=pid_file.exists,
        ready_timeout_s=20,
        stop_grace_s=0.5,
    )
    parent.start().wait_ready()
    grandchild = int(pid_file.read_text())
    assert alive(grandchild) and os.getpgid(grandchild) == parent.pid

    parent.stop()

    assert not alive(parent.pid)
    assert wait_until(lambda: not alive(grandchild), timeout_s=2)


def test_stop_is_idempotent_and_a_no_op_before_start(managed):
    sleeper = managed("sleeper", [PY, "-c", "import time; time.sleep(600)"])
    sleeper.stop()  # never started
    sleeper.start()
    sleeper.stop()
    sleeper.stop()
    assert not sleeper.running
    assert sleeper.returncode is not None


def test_early_exit_raises_naming_the_component_and_quoting_its_log(managed):
    failing = managed(
        "billing-sandbox",
        [PY, "-c", "import sys; print('config error: STRIPE_PORT is not a number', flush=True); sys.exit(3)"],
        ready=lambda: False,
        ready_timeout_s=20,
    )
    failing.start()

    with pytest.raises(ProcessStartError) as err:
        failing.wait_ready()

    message = str(err.value)
    assert "billing-sandbox exited with code 3" in message
    assert "config error: STRIPE_PORT is not a number" in message


def test_readiness_timeout_raises_and_stops_the_process(managed):
    silent = managed(
        "silent",
        [PY, "-c", "print('still warming up', flush=True); import time; time.sleep(600)"],
        ready=lambda: False,
        ready_timeout_s=0.5,
    )
    silent.start()

    with pytest.raises(ProcessStartError) as err:
        silent.wait_ready()

    assert "silent was not ready after 0.5 s" in str(err.value)
    assert "still warming up" in str(err.value)
    assert not alive(silent.pid)


def test_missing_executable_is_a_start_error_naming_the_component(managed, tmp_path):
    ghost = managed("ghost", [str(tmp_path / "no-such-binary")])
    with pytest.raises(ProcessStartError, match="ghost: cannot run"):
        ghost.start()


def test_a_readiness_check_that_raises_counts_as_not_ready(managed):
    def broken_check() -> bool:
        raise ConnectionRefusedError("not listening yet")

    child = managed(
        "child", [PY, "-c", "import time; time.sleep(600)"], ready=broken_check, ready_timeout_s=0.3
    )
    child.start()
    with pytest.raises(ProcessStartError, match="child was not ready"):
        child.wait_ready()


def test_readiness_helpers_report_a_closed_port():
    port = free_port()
    assert not tcp_ready("127.0.0.1", port)
    assert not http_ready(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    ("start", "package", "env_var"),
    [
        (start_tasks, "gcloud-tasks-emulator", "YTEMPIRE_TASKS_EMULATOR_VENV"),
        (start_storage, "gcp-storage-emulator", "YTEMPIRE_STORAGE_EMULATOR_VENV"),
        (start_secret_manager, "drongo", "YTEMPIRE_SECRETMANAGER_EMULATOR_VENV"),
    ],
)
def test_missing_emulator_virtualenv_says_how_to_install_it(start, package, env_var, tmp_path, monkeypatch):
    monkeypatch.setenv(env_var, str(tmp_path / "empty-venv"))
    with pytest.raises(EmulatorNotInstalledError) as err:
        start(log_dir=tmp_path)
    assert f"{package} not found in {tmp_path / 'empty-venv'}" in str(err.value)
    assert "make setup" in str(err.value)


# A Python program that starts two children, detaches one, and exits without stopping either.
EXIT_WITHOUT_STOPPING = """
import sys
from pathlib import Path
from infra.local.processes import ManagedProcess
log_dir = Path(sys.argv[1])
sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
kept = ManagedProcess("kept", sleep, log_path=log_dir / "kept.log", ready=lambda: True).start()
left = ManagedProcess("left", sleep, log_path=log_dir / "left.log", ready=lambda: True).start()
kept.detach()
print(kept.pid, left.pid)
"""


def test_interpreter_exit_stops_what_it_started_except_detached_processes(tmp_path):
    out = subprocess.run(
        [PY, "-c", EXIT_WITHOUT_STOPPING, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    kept, left = (int(pid) for pid in out.stdout.split())
    try:
        assert not alive(left)
        assert group_alive(kept)
    finally:
        stop_process_group(kept, grace_s=2)
    assert not group_alive(kept)


def fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)
    return path


def test_an_emulator_port_already_in_use_is_reported_before_starting(tmp_path, monkeypatch):
    fake_executable(tmp_path / "venv" / "bin" / "gcp-storage-emulator")
    monkeypatch.setenv("YTEMPIRE_STORAGE_EMULATOR_VENV", str(tmp_path / "venv"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ProcessStartError, match=f"storage-emulator: port {port} on 127.0.0.1 is already in use"
        ):
            start_storage(port, tmp_path / "logs")


def test_missing_gcloud_or_firestore_component_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EmulatorNotInstalledError, match="gcloud not found on PATH"):
        start_firestore(log_dir=tmp_path)

    fake_executable(tmp_path / "sdk" / "bin" / "gcloud")  # an SDK without platform/cloud-firestore-emulator
    monkeypatch.setenv("PATH", str(tmp_path / "sdk" / "bin"))
    with pytest.raises(EmulatorNotInstalledError) as err:
        start_firestore(log_dir=tmp_path)
    assert str(err.value) == (
        "gcloud Firestore emulator not installed: apt-get install google-cloud-cli-firestore-emulator"
    )

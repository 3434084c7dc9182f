"""Start the Google Cloud emulators of the local cloud on 127.0.0.1, each a ManagedProcess that is ready.

Firestore is Google's own emulator (through `gcloud`); Cloud Tasks, Cloud Storage and Secret Manager are
PyPI emulators that pin old dependencies, so each lives in its own virtualenv: by default the repo's
`.venv-tasks`, `.venv-gcs`, `.venv-drongo` (created by `make setup`), overridable per emulator with
YTEMPIRE_TASKS_EMULATOR_VENV, YTEMPIRE_STORAGE_EMULATOR_VENV, YTEMPIRE_SECRETMANAGER_EMULATOR_VENV.
"""

from __future__ import annotations

import functools
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.local.processes import (
    ManagedProcess,
    ProcessStartError,
    free_port,
    http_ready,
    port_free,
    tcp_ready,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LOG_DIR = REPO_ROOT / ".local" / "logs"
HOST = "127.0.0.1"

TASKS_VENV_ENV = "YTEMPIRE_TASKS_EMULATOR_VENV"
STORAGE_VENV_ENV = "YTEMPIRE_STORAGE_EMULATOR_VENV"
SECRETMANAGER_VENV_ENV = "YTEMPIRE_SECRETMANAGER_EMULATOR_VENV"

_TASKS_MAIN = Path(__file__).with_name("tasks_emulator_main.py")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorNotInstalledError(RuntimeError):
    """A piece of the local cloud is missing; the message says how to install it."""


class EmulatorProcess(ManagedProcess):
    """A ManagedProcess serving an emulator API on host:port."""

    def __init__(self, name: str, argv: Sequence[str], *, host: str, port: int, **kwargs) -> None:
        super().__init__(name, argv, **kwargs)
        self.host = host
        self.port = port

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"


def emulator_venv(env_var: str, default_name: str, venv: Path | str | None = None) -> Path:
    """The virtualenv of an emulator: the argument, else the environment variable, else the repo's."""
    if venv is not None:
        return Path(venv)
    configured = os.environ.get(env_var, "").strip()
    return Path(configured) if configured else REPO_ROOT / default_name


def _venv_executable(venv: Path, executable: str, package: str, env_var: str) -> Path:
    path = venv / "bin" / executable
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise EmulatorNotInstalledError(
            f"{package} not found in {venv} (no {path.relative_to(venv)}): run `make setup`, "
            f"or point {env_var} at a virtualenv where `pip install {package}` was run"
        )
    return path


def _start(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_dir: Path | str | None,
    ready_url: str | None = None,
    ready_timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> EmulatorProcess:
    if not port_free(HOST, port):
        # Fail now: some emulators keep running without their server thread, and a readiness check
        # could even be answered by whatever holds the port.
        raise ProcessStartError(f"{name}: port {port} on {HOST} is already in use")
    log_path = Path(log_dir or DEFAULT_LOG_DIR) / f"{name}-{port}.log"
    ready = (
        functools.partial(http_ready, ready_url) if ready_url else functools.partial(tcp_ready, HOST, port)
    )
    process = EmulatorProcess(
        name,
        argv,
        host=HOST,
        port=port,
        log_path=log_path,
        ready=ready,
        ready_timeout_s=ready_timeout_s,
        env=env,
    )
    process.start()
    try:
        return process.wait_ready()  # stops the group itself on failure
    except BaseException:  # KeyboardInterrupt while waiting must not leave the emulator behind
        process.stop()
        raise


# --- Firestore -----------------------------------------------------------------------------------------
def start_firestore(
    port: int | None = None, log_dir: Path | str | None = None, *, ready_timeout_s: float = 90.0
) -> EmulatorProcess:
    """`gcloud emulators firestore start` (a shell script and a Java process under gcloud, one group)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorNotInstalledError("gcloud not found on PATH: apt-get install google-cloud-cli")
    sdk_root = Path(gcloud).resolve().parent.parent
    if not (sdk_root / "platform" / "cloud-firestore-emulator").is_dir():
        raise EmulatorNotInstalledError(
            "gcloud Firestore emulator not installed: apt-get install google-cloud-cli-firestore-emulator"
        )
    if shutil.which("java") is None:
        raise EmulatorNotInstalledError("java not found on PATH (the Firestore emulator needs Java 17+)")
    port = port or free_port(HOST)
    return _start(
        "firestore-emulator",
        [gcloud, "emulators", "firestore", "start", f"--host-port={HOST}:{port}"],
        port=port,
        log_dir=log_dir,
        ready_url=f"http://{HOST}:{port}/",
        ready_timeout_s=ready_timeout_s,
        env={"CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
    )


def reset_firestore(host_port: str, project: str, *, timeout_s: float = 10.0) -> None:
    """Delete every document of `project`'s default database in the emulator."""
    path = urllib.parse.quote(f"/emulator/v1/projects/{project}/databases/(default)/documents")
    request = urllib.request.Request(f"http://{host_port}{path}", method="DELETE")
    with _DIRECT.open(request, timeout=timeout_s) as response:
        response.read()


# --- Cloud Tasks -----------------------------------------------------------------------------------------
def start_tasks(
    port: int | None = None,
    log_dir: Path | str | None = None,
    venv: Path | str | None = None,
    *,
    loop_sleep_s: float = 0.005,
    retry_delay_s: float = 0.1,
    max_retries: int | None = None,
    ready_timeout_s: float = 30.0,
) -> EmulatorProcess:
    """gcloud-tasks-emulator through `tasks_emulator_main.py` (short poll, loopback only).

    The emulator dispatches each queue's tasks one after another in one thread, and its HTTP requests
    have no timeout: a handler that hangs holds up its whole queue.
    """
    venv = emulator_venv(TASKS_VENV_ENV, ".venv-tasks", venv)
    _venv_executable(venv, "gcloud-tasks-emulator", "gcloud-tasks-emulator", TASKS_VENV_ENV)
    python = _venv_executable(venv, "python", "gcloud-tasks-emulator", TASKS_VENV_ENV)
    port = port or free_port(HOST)
    argv = [
        str(python),
        str(_TASKS_MAIN),
        f"--loop-sleep-s={loop_sleep_s}",
        f"--retry-delay-s={retry_delay_s}",
        f"--bind-host={HOST}",
        "start",
        f"--port={port}",
    ]
    if max_retries is not None:
        argv.append(f"--max-retries={max_retries}")
    return _start(
        "tasks-emulator",
        argv,
        port=port,
        log_dir=log_dir,
        ready_timeout_s=ready_timeout_s,
        env={"PYTHONUNBUFFERED": "1"},
    )


# --- Cloud Storage --------------------------------------------------------------------------------------
def start_storage(
    port: int | None = None,
    log_dir: Path | str | None = None,
    venv: Path | str | None = None,
    *,
    data_dir: Path | str | None = None,
    ready_timeout_s: float = 30.0,
) -> EmulatorProcess:
    """gcp-storage-emulator: in memory, or persisted under `data_dir`."""
    venv = emulator_venv(STORAGE_VENV_ENV, ".venv-gcs", venv)
    executable = _venv_executable(venv, "gcp-storage-emulator", "gcp-storage-emulator", STORAGE_VENV_ENV)
    port = port or free_port(HOST)
    argv = [str(executable)]
    if data_dir is not None:
        argv += ["--data-dir", str(Path(data_dir).resolve())]
    argv += ["start", "--host", HOST, "--port", str(port)]
    if data_dir is None:
        argv.append("--in-memory")
    return _start(
        "storage-emulator",
        argv,
        port=port,
        log_dir=log_dir,
        ready_url=f"http://{HOST}:{port}/",
        ready_timeout_s=ready_timeout_s,
        env={"PYTHONUNBUFFERED": "1"},
    )


# --- Secret Manager -------------------------------------------------------------------------------------
def start_secret_manager(
    port: int | None = None,
    log_dir: Path | str | None = None,
    venv: Path | str | None = None,
    *,
    ready_timeout_s: float = 30.0,
) -> EmulatorProcess:
    """`drongo server` (Secret Manager REST API, among other services, all in memory)."""
    venv = emulator_venv(SECRETMANAGER_VENV_ENV, ".venv-drongo", venv)
    executable = _venv_executable(venv, "drongo", "drongo", SECRETMANAGER_VENV_ENV)
    port = port or free_port(HOST)
    return _start(
        "secretmanager-emulator",
        [str(executable), "server", "--host", HOST, "--port", str(port)],
        port=port,
        log_dir=log_dir,
        ready_url=f"http://{HOST}:{port}/drongo/health",
        ready_timeout_s=ready_timeout_s,
        env={"PYTHONUNBUFFERED": "1"},
    )

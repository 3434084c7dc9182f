"""Managed child processes of the local cloud: each runs in its own process group, is polled until it is
ready, and is stopped as a whole group (grandchildren included), so none is ever left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

logger = logging.getLogger(__name__)

_POLL_INTERVAL_S = 0.05
_KILL_WAIT_S = 5.0
_LOG_TAIL_CHARS = 4000

# Loopback servers must be reached directly even when the environment configures an HTTP proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProcessStartError(RuntimeError):
    """A managed process could not be started or did not become ready; the message quotes its log."""


class ProcessStopError(RuntimeError):
    """Members of a managed process group survived SIGKILL (e.g. stuck in uninterruptible I/O)."""


# --- Readiness checks --------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (another process may still take it before the child binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    """True when a server could bind host:port now (SO_REUSEADDR, as servers do: TIME_WAIT is no obstacle)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tcp_ready(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_ready(url: str, timeout_s: float = 1.0) -> bool:
    """True when `url` answers HTTP with a status below 500 (a 404 still means the server is up)."""
    try:
        with _DIRECT.open(url, timeout=timeout_s) as response:
            return response.status < 500
    except urllib.error.HTTPError as err:
        return err.code < 500
    except (OSError, http.client.HTTPException):
        return False


# --- Process groups ----------------------------------------------------------------------------------
def _live_group_members(pgid: int) -> list[int]:
    """Pids in process group `pgid` that are not zombies (a zombie holds no resources and ignores signals)."""
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:  # no procfs: fall back to "does the group exist at all"
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """True while a (non-zombie) process is left in process group `pgid`."""
    return bool(_live_group_members(pgid))


def _wait_group_gone(pgid: int, timeout_s: float, reap: Callable[[], object] | None) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if reap is not None:
            reap()  # our own child: reap it so it does not linger as a zombie
        if not _live_group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL_S / 2)


def stop_process_group(
    pgid: int, grace_s: float = 10.0, *, name: str = "", reap: Callable[[], object] | None = None
) -> None:
    """SIGTERM every process of group `pgid`, SIGKILL what is left after `grace_s`.

    Works for a group this Python process did not start (e.g. one recorded by `ytempire local up`).
    Raises ProcessStopError when members survive SIGKILL.
    """
    label = name or f"process group {pgid}"
    _signal_group(pgid, signal.SIGTERM)
    if _wait_group_gone(pgid, grace_s, reap):
        return
    logger.warning("%s ignored SIGTERM for %g s: killing its process group", label, grace_s)
    _signal_group(pgid, signal.SIGKILL)
    if not _wait_group_gone(pgid, _KILL_WAIT_S, reap):
        raise ProcessStopError(f"{label}: processes {_live_group_members(pgid)} survived SIGKILL")


_RUNNING: set[ManagedProcess] = set()
_RUNNING_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    """Last line of defence: an interpreter that exits (tests included) stops what it started."""
    with _RUNNING_LOCK:
        processes = list(_RUNNING)
    for process in processes:
        try:
            process.stop()
        except Exception:  # keep stopping the others; the error is reported, not swallowed
            logger.exception("could not stop %s", process.name)


class ManagedProcess:
    """A child process in its own process group, with its output in a log file.

    `env` adds variables to this process's environment. `ready` is polled by `wait_ready()` until it
    returns True, the child exits, or `ready_timeout_s` passes. `stop()` sends SIGTERM to the whole
    group, waits `stop_grace_s`, then SIGKILLs what is left.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        ready: Callable[[], bool],
        ready_timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_grace_s: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log_path = Path(log_path)
        self.ready_timeout_s = ready_timeout_s
        self.stop_grace_s = stop_grace_s
        self._ready = ready
        self._env = dict(env or {})
        self._cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} running={self.running}>"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and not self._stopped and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def start(self) -> Self:
        if self._popen is not None:
            raise RuntimeError(f"{self.name} was already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        try:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self._env},
                cwd=self._cwd,
                start_new_session=True,  # own process group: stop() reaches the grandchildren too
            )
        except OSError as err:
            self._log.close()
            raise ProcessStartError(f"{self.name}: cannot run {self.argv[0]!r}: {err}") from err
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        logger.info("started %s (pid %s), log %s", self.name, self._popen.pid, self.log_path)
        return self

    def wait_ready(self) -> Self:
        """Poll the readiness check; on early exit or timeout stop the group and raise ProcessStartError."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} was not started")
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            returncode = self._popen.poll()
            if returncode is not None:
                self.stop()
                raise ProcessStartError(
                    f"{self.name} exited with code {returncode} before it was ready. {self._log_excerpt()}"
                )
            if self._check_ready():
                return self
            if time.monotonic() >= deadline:
                self.stop()
                raise ProcessStartError(
                    f"{self.name} was not ready after {self.ready_timeout_s:g} s. {self._log_excerpt()}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def stop(self, grace_s: float | None = None) -> None:
        """SIGTERM the whole group, SIGKILL it after the grace period. Idempotent; a no-op before start."""
        with self._lock:
            if self._popen is None or self._stopped:
                return
            pgid = self._popen.pid  # start_new_session: the group id is the leader's pid
            grace_s = self.stop_grace_s if grace_s is None else grace_s
            try:
                stop_process_group(pgid, grace_s, name=self.name, reap=self._popen.poll)
                self._popen.wait()
                self._stopped = True
            finally:
                if self._stopped:
                    if self._log is not None:
                        self._log.close()
                    with _RUNNING_LOCK:
                        _RUNNING.discard(self)
        logger.info("stopped %s (exit code %s)", self.name, self._popen.returncode)

    def detach(self) -> None:
        """Let the process outlive this Python process: it is no longer stopped at interpreter exit.

        `stop()` still works; from another process, `stop_process_group(pid)` stops it (pid == pgid).
        """
        with self._lock:
            if self._log is not None:
                self._log.close()  # the child keeps its own descriptor of the log
            with _RUNNING_LOCK:
                _RUNNING.discard(self)

    def log_tail(self, max_chars: int = _LOG_TAIL_CHARS) -> str:
        """The end of the process's output (what it wrote so far)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - max_chars))
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Self:
        if self._popen is None:
            self.start()
        return self.wait_ready()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _check_ready(self) -> bool:
        try:
            return bool(self._ready())
        except Exception:  # a check that fails to connect is simply "not ready yet"
            return False

    def _log_excerpt(self) -> str:
        tail = self.log_tail().strip()
        if not tail:
            return f"Its log {self.log_path} is empty."
        return f"Last output (from {self.log_path}):\n{tail}"

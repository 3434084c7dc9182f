"""Run gcloud-tasks-emulator with a short queue poll interval, bound to loopback.

Runs with the python of the emulator's own virtualenv (it pins protobuf<5), so it imports nothing of
the project. Usage: `python tasks_emulator_main.py [--loop-sleep-s S] [--retry-delay-s S]
[--bind-host H] start -p PORT ...` — everything after our options goes to the emulator's own CLI.

- `--loop-sleep-s` (env YTEMPIRE_TASKS_LOOP_SLEEP_S, default 0.005): the emulator sleeps this long
  between two passes over a queue (upstream: 0.1 s), which bounds the enqueue-to-dispatch latency.
- `--retry-delay-s` (env YTEMPIRE_TASKS_RETRY_DELAY_S, default 0.1): upstream retries a failed task on
  the next pass; with a short poll that would be hundreds of retries a second, so a failed task is
  rescheduled this far ahead instead (upstream's pace). 0 keeps the upstream behaviour.
- `--bind-host` (default 127.0.0.1): upstream listens on every interface (`[::]`).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta


def _options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument(
        "--loop-sleep-s", type=float, default=float(os.environ.get("YTEMPIRE_TASKS_LOOP_SLEEP_S", "0.005"))
    )
    parser.add_argument(
        "--retry-delay-s", type=float, default=float(os.environ.get("YTEMPIRE_TASKS_RETRY_DELAY_S", "0.1"))
    )
    parser.add_argument("--bind-host", default=os.environ.get("YTEMPIRE_TASKS_BIND_HOST", "127.0.0.1"))
    return parser.parse_known_args(argv)


def _bind_to(server_module, host: str) -> None:
    """Make the emulator's gRPC server listen on `host` instead of every interface."""
    grpc = server_module.grpc
    make_server = grpc.server

    class _Grpc:
        def __getattr__(self, name):
            return getattr(grpc, name)

        @staticmethod
        def server(*args, **kwargs):
            grpc_server = make_server(*args, **kwargs)
            add_port = grpc_server.add_insecure_port

            def add_insecure_port(address: str) -> int:
                return add_port(address.replace("[::]", host, 1))

            grpc_server.add_insecure_port = add_insecure_port
            return grpc_server

    server_module.grpc = _Grpc()


def _delay_retries(server_module, delay_s: float) -> None:
    """Give a task that just failed a schedule_time `delay_s` ahead, as Cloud Tasks' backoff would."""
    submit_task = server_module.QueueState.submit_task

    def submit_task_with_delay(self, task_name, force_run=False):
        queue_name = task_name.split("?", 1)[0].rsplit("/", 2)[0]
        queued = self._queue_tasks.get(queue_name, [])
        before = next((t for t in queued if t.name == task_name), None)
        count_before = before.dispatch_count if before is not None else None
        task = submit_task(self, task_name, force_run)
        dispatched = count_before is not None and task.dispatch_count > count_before
        status = task.last_attempt.response_status.code if dispatched else 0
        if dispatched and 400 <= status < 600 and any(t is task for t in queued):
            task.schedule_time = datetime.now(UTC) + timedelta(seconds=delay_s)
        return task

    server_module.QueueState.submit_task = submit_task_with_delay


def main(argv: list[str] | None = None) -> None:
    ours, emulator_argv = _options(sys.argv[1:] if argv is None else argv)
    from gcloud_tasks_emulator import server
    from gcloud_tasks_emulator.__main__ import main as emulator_main

    server._LOOP_SLEEP_TIME = ours.loop_sleep_s
    _bind_to(server, ours.bind_host)
    if ours.retry_delay_s > 0:
        _delay_retries(server, ours.retry_delay_s)
    sys.argv = [sys.argv[0], *emulator_argv]
    emulator_main()


if __name__ == "__main__":
    main()

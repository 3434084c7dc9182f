"""Structured JSON logs on stdout for Cloud Logging: severity, message, trace, job_id, step, account.

Configured once, on first import of this module; context fields come from contextvars so every line
of a request carries them. Nothing secret is ever passed to a log call (settings hold secrets as
SecretStr, whose str() is masked).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("log_context", default=None)
_TRACE_KEY = "logging.googleapis.com/trace"


class _CloudFormatter(JsonFormatter):
    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["severity"] = record.levelname
        log_record.pop("levelname", None)
        for key, value in (_context.get() or {}).items():
            log_record.setdefault(_TRACE_KEY if key == "trace" else key, value)


def _configure() -> logging.Logger:
    root = logging.getLogger("ytempire")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_CloudFormatter("%(levelname)s %(message)s %(name)s", timestamp=True))
        root.addHandler(handler)
        if root.level == logging.NOTSET:  # a level set before this import stands
            root.setLevel(logging.INFO)
        root.propagate = False
    return root


_configure()


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"ytempire.{name}")


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def trace_from_header(header: str | None, project_id: str) -> str | None:
    """`X-Cloud-Trace-Context: TRACE_ID/SPAN;o=1` → the resource name Cloud Logging correlates on."""
    if not header:
        return None
    trace_id = header.split("/", 1)[0]
    return f"projects/{project_id}/traces/{trace_id}" if trace_id else None

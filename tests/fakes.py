"""Hand-written fakes at the port boundary, for unit tests of domain logic only."""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from shared.chain.store import JobNotFound, Transition


class InMemoryJobStore:
    """Runs the same transitions as the Firestore store, under a lock."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.dead_letters: dict[str, dict[str, Any]] = {}
        self.outbox: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def create(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        with self._lock:
            if doc["job_id"] in self.docs:
                return copy.deepcopy(self.docs[doc["job_id"]]), False
            self.docs[doc["job_id"]] = copy.deepcopy(doc)
            return doc, True

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self.docs.get(job_id)
            return copy.deepcopy(doc) if doc else None

    def transact(self, job_id: str, transition: Transition) -> Any:
        with self._lock:
            if job_id not in self.docs:
                raise JobNotFound(job_id)
            result, new = transition(copy.deepcopy(self.docs[job_id]))
            if new is not None:
                self.docs[job_id] = copy.deepcopy(new)
            return result

    def set_fields(self, job_id: str, fields: dict[str, Any], now: datetime) -> None:
        with self._lock:
            self.docs[job_id].update(copy.deepcopy(fields), updated_at=now)

    def record_dead_letter(self, job_id: str, step: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.dead_letters.setdefault(f"{job_id}-{step}", record)

    def append_outbox(self, key: str, record: dict[str, Any]) -> bool:
        with self._lock:
            if key in self.outbox:
                return False
            self.outbox[key] = record
            return True

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(d) for d in list(self.docs.values())[:limit]]


class RecordingQueue:
    """Records enqueues; like Cloud Tasks (not its emulator) it refuses a task name seen before."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.names: set[str] = set()

    def enqueue(self, step: str, job_id: str, *, task_id: str, schedule_time: datetime | None = None) -> bool:
        if task_id in self.names:
            return False
        self.names.add(task_id)
        self.tasks.append(
            {"step": step, "job_id": job_id, "task_id": task_id, "schedule_time": schedule_time}
        )
        return True

    def steps(self) -> list[str]:
        return [t["step"] for t in self.tasks]

    def pop_all(self) -> list[dict[str, Any]]:
        out, self.tasks = self.tasks, []
        return out

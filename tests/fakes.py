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


# --- provider-chain state (issue 4) ------------------------------------------------------------------------
class InMemoryBlobStore:
    """BlobStore in a dict; put_* accept object paths or gs:// URIs, like GcsBlobStore."""

    def __init__(self, bucket: str = "test-bucket") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _uri(self, path: str) -> str:
        return path if path.startswith("gs://") else f"gs://{self.bucket}/{path.lstrip('/')}"

    def put_bytes(self, path: str, data: bytes, content_type: str) -> str:
        with self._lock:
            self.objects[self._uri(path)] = bytes(data)
        return self._uri(path)

    def put_file(self, path: str, local_path: Any, content_type: str) -> str:
        from pathlib import Path

        return self.put_bytes(path, Path(local_path).read_bytes(), content_type)

    def put_stream(self, path: str, stream: Any, content_type: str) -> str:
        chunks = []
        while chunk := stream.read(64 * 1024):
            chunks.append(chunk)
        return self.put_bytes(path, b"".join(chunks), content_type)

    def get_bytes(self, uri: str) -> bytes:
        with self._lock:
            if uri not in self.objects:
                raise FileNotFoundError(uri)
            return self.objects[uri]

    def download_to(self, uri: str, local_path: Any) -> Any:
        from pathlib import Path

        Path(local_path).write_bytes(self.get_bytes(uri))
        return Path(local_path)

    def exists(self, uri: str) -> bool:
        with self._lock:
            return uri in self.objects


class InMemoryCache:
    """KeyValueCache with a settable clock; counts hits."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[dict[str, Any], float]] = {}
        self.now = 0.0
        self.hits = 0

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self.values.get(key)
        if entry is None or entry[1] <= self.now:
            return None
        self.hits += 1
        return copy.deepcopy(entry[0])

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        self.values[key] = (copy.deepcopy(value), self.now + ttl_s)


class InMemoryLedger:
    """LedgerStore: the same transitions as Firestore's, under a lock."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def transact(self, doc_ids: list[str], transition: Any) -> Any:
        with self._lock:
            docs = {d: copy.deepcopy(self.docs.get(d, {})) for d in doc_ids}
            result, writes = transition(docs)
            for doc_id, data in writes.items():
                self.docs[doc_id] = copy.deepcopy(data)
            return result


class InMemoryRateSlots:
    def __init__(self) -> None:
        self.windows: dict[str, int] = {}
        self.limits: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def claim(self, window_key: str, limit: int, ttl_s: float) -> bool:
        with self._lock:
            if self.windows.get(window_key, 0) >= limit:
                return False
            self.windows[window_key] = self.windows.get(window_key, 0) + 1
            return True

    def limited_until(self, provider: str) -> datetime | None:
        return self.limits.get(provider)

    def set_limited_until(self, provider: str, until: datetime) -> None:
        self.limits[provider] = until


class InMemoryScriptLibrary:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def add(self, entry_id: str, entry: dict[str, Any], ttl_s: float) -> None:
        self.entries[entry_id] = copy.deepcopy(entry)

    def candidates(self, keywords: list[str], limit: int = 50) -> list[dict[str, Any]]:
        wanted = set(keywords)
        return [copy.deepcopy(e) for e in self.entries.values() if wanted & set(e["keywords"])][:limit]

"""Shared provider state on Firestore: budget ledgers (multi-document transactions), rate-limit slots,
the response/search cache (TTL) and the library of scripts for "cached similar".

Collections (prefix from settings): `budgets/{scope}:{period}`, `rate_limits/{window}/rate_slots/{n}`,
`provider_limits/{provider}`, `cache/{sha256}`, `script_library/{sha256}`. `cache`, `rate_slots` and
`script_library` documents carry `expires_at`, which Firestore's TTL policy deletes (terraform/firestore.tf);
readers also ignore an expired document, since TTL deletion can lag by a day.
"""

from __future__ import annotations

import hashlib
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

from shared.gcp.firestore_jobs import _contended
from shared.ports import LedgerTransition


def _now() -> datetime:
    return datetime.now(UTC)


def cache_doc_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class FirestoreLedger:
    """LedgerStore: one transaction reads every document of a reservation and writes the changed ones.

    Budget documents are shared by every job (a day's, a month's), so transactions on them contend.
    Two things keep that from collapsing (the emulator, like Firestore, serialises them): an instance
    runs one ledger transaction at a time (its threads would only contend with each other), and a lost
    race is retried after a jittered, growing pause instead of at once (the client's own retries have
    no pause, so contenders collide again and again)."""

    def __init__(self, client: firestore.Client, prefix: str = "") -> None:
        self._db = client
        self._col = client.collection(f"{prefix}budgets")
        self._lock = threading.Lock()

    def transact(self, doc_ids: list[str], transition: LedgerTransition) -> Any:
        with self._lock:
            return self._transact(doc_ids, transition)

    @retry(
        retry=retry_if_exception(_contended),
        wait=wait_random_exponential(multiplier=0.02, max=1.0),
        stop=stop_after_delay(90),
        reraise=True,
    )
    def _transact(self, doc_ids: list[str], transition: LedgerTransition) -> Any:
        refs = {doc_id: self._col.document(doc_id) for doc_id in dict.fromkeys(doc_ids)}

        @firestore.transactional
        def run(txn: firestore.Transaction) -> Any:
            docs = {doc_id: {} for doc_id in refs}
            for snap in self._db.get_all(list(refs.values()), transaction=txn):
                if snap.exists:
                    docs[snap.id] = snap.to_dict()
            result, writes = transition(docs)
            for doc_id, data in writes.items():
                txn.set(refs[doc_id], data)
            return result

        return run(self._db.transaction(max_attempts=1))


class FirestoreRateSlots:
    """RateSlots: a window's allowance is `limit` numbered slot documents; a request claims a free one
    with create() (first writer wins, the others get AlreadyExists and pick another). Exact under any
    concurrency, and no two requests contend on one document unless they pick the same slot."""

    def __init__(self, client: firestore.Client, prefix: str = "", rng: random.Random | None = None) -> None:
        self._windows = client.collection(f"{prefix}rate_limits")
        self._limits = client.collection(f"{prefix}provider_limits")
        self._rng = rng or random.Random()

    def claim(self, window_key: str, limit: int, ttl_s: float) -> bool:
        slots = self._windows.document(window_key).collection("rate_slots")
        expires_at = _now() + timedelta(seconds=ttl_s)
        for _ in range(3):  # re-read the taken slots after a run of lost races
            taken = {ref.id for ref in slots.list_documents(page_size=max(1, limit))}
            free = [n for n in range(limit) if f"{n:05d}" not in taken]
            self._rng.shuffle(free)
            for n in free[:5]:
                try:
                    slots.document(f"{n:05d}").create({"claimed_at": _now(), "expires_at": expires_at})
                    return True
                except gexc.AlreadyExists:
                    continue
            if not free:
                return False
        return False

    def limited_until(self, provider: str) -> datetime | None:
        snap = self._limits.document(provider).get()
        return snap.to_dict().get("limited_until") if snap.exists else None

    def set_limited_until(self, provider: str, until: datetime) -> None:
        self._limits.document(provider).set({"limited_until": until, "updated_at": _now()})


class FirestoreCache:
    """KeyValueCache on the `cache` collection; keys are hashed into document ids."""

    def __init__(self, client: firestore.Client, prefix: str = "") -> None:
        self._col = client.collection(f"{prefix}cache")

    def get(self, key: str) -> dict[str, Any] | None:
        snap = self._col.document(cache_doc_id(key)).get()
        if not snap.exists:
            return None
        data = snap.to_dict()
        if data.get("expires_at") is None or data["expires_at"] <= _now():
            return None
        return data.get("value")

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        self._col.document(cache_doc_id(key)).set(
            {"value": value, "kind": key.split(":", 1)[0], "expires_at": _now() + timedelta(seconds=ttl_s)}
        )


class FirestoreScriptLibrary:
    """Scripts written by a model, found again by topic keywords (array-contains-any)."""

    def __init__(self, client: firestore.Client, prefix: str = "") -> None:
        self._col = client.collection(f"{prefix}script_library")

    def add(self, entry_id: str, entry: dict[str, Any], ttl_s: float) -> None:
        self._col.document(cache_doc_id(entry_id)).set(
            {**entry, "expires_at": _now() + timedelta(seconds=ttl_s)}
        )

    def candidates(self, keywords: list[str], limit: int = 50) -> list[dict[str, Any]]:
        if not keywords:
            return []
        query = self._col.where(filter=firestore.FieldFilter("keywords", "array_contains_any", keywords[:30]))
        now = _now()
        return [
            d
            for d in (s.to_dict() for s in query.limit(limit).stream())
            if d.get("expires_at") and d["expires_at"] > now
        ]

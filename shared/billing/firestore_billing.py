"""Billing state on Firestore: the Stripe event log, per-subscription state, customers and their
entitlements, daily video slots, and billing actions left for manual processing.

- `stripe_events/{event_id}`: created in the same transaction that applies the event, so an event is
  recorded if and only if it was applied; a redelivery is answered after one document read.
- `stripe_subscriptions/{sub_id}`: the facets of shared.billing.events; `stripe_customers/{cus_id}`: the
  link from a Stripe customer to ours.
- `customers/{customer_id}`: entitlements (summary fields and `subscriptions`), `channels_used`.
- `customers/{id}/video_days/{YYYY-MM-DD}/slots/{nnn}`: one document per video accepted that day. A
  request claims a free slot with create-if-absent in the transaction that creates its job (DESIGN.md,
  "Counting limits without a hot document"): exact, and no two requests contend on one counter.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared.billing import entitlements
from shared.billing.events import Fact, apply_fact, new_subscription_doc, subscription_view
from shared.config import Settings
from shared.log import get_logger

log = get_logger("billing.firestore")


def contended(exc: BaseException) -> bool:
    """Lost a race on a document (the client gives up with a ValueError after its own attempts)."""
    return isinstance(exc, gexc.Aborted | gexc.Conflict) or (
        isinstance(exc, ValueError) and "Failed to commit transaction" in str(exc)
    )


class AdmissionUnavailable(RuntimeError):
    """Could not claim a slot after many attempts (heavy contention): the caller may retry (503)."""


class FirestoreBilling:
    def __init__(self, client: firestore.Client, settings: Settings, *, rng: random.Random | None = None):
        self._db = client
        self._settings = settings
        p = settings.collection_prefix
        self._events = client.collection(f"{p}stripe_events")
        self._subs = client.collection(f"{p}stripe_subscriptions")
        self._links = client.collection(f"{p}stripe_customers")
        self._customers = client.collection(f"{p}customers")
        self._actions = client.collection(f"{p}billing_actions")
        self._jobs = client.collection(f"{p}jobs")
        self._rng = rng or random.SystemRandom()

    # --- the Stripe event log --------------------------------------------------------------------------
    def event_status(self, event_id: str) -> tuple[str, datetime | None] | None:
        """One document read: the event's status (`processing`, `applied`, `ignored`) and claim time."""
        snap = self._events.document(event_id).get()
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        return data.get("status", "applied"), data.get("claimed_at")

    def claim_event(self, event_id: str, record: dict[str, Any], now: datetime) -> bool:
        """Record the event first, create-if-absent (status `processing`); False when another delivery
        recorded it first. Of concurrent deliveries of one event exactly one claims it."""
        try:
            self._events.document(event_id).create(
                self._event_record({**record, "status": "processing", "claimed_at": now})
            )
            return True
        except gexc.AlreadyExists:
            return False

    def record_event(self, event_id: str, record: dict[str, Any]) -> bool:
        """Create-if-absent an event that changes no state (ignored types); False when already there."""
        try:
            self._events.document(event_id).create(self._event_record({**record, "status": "ignored"}))
            return True
        except gexc.AlreadyExists:
            return False

    def _event_record(self, record: dict[str, Any]) -> dict[str, Any]:
        received = record.get("received_at") or datetime.now().astimezone()
        return {**record, "expires_at": received + timedelta(days=self._settings.stripe_event_retention_days)}

    @retry(
        retry=retry_if_exception(contended),
        wait=wait_random_exponential(multiplier=0.05, max=2),
        stop=stop_after_attempt(8),
        reraise=True,
    )
    def apply(self, fact: Fact, record: dict[str, Any], now: datetime) -> str:
        """Apply one claimed event's fact and mark the event applied, atomically. Returns the outcome:
        `applied`, `stale` (older than what is known: nothing changed), `duplicate` (applied meanwhile),
        or `unlinked` (kept on the subscription; no customer of ours known for it yet)."""
        ev_ref = self._events.document(fact.event_id)
        sub_ref = self._subs.document(fact.subscription_id)
        settings = self._settings

        @firestore.transactional
        def run(txn: firestore.Transaction) -> str:
            ev = ev_ref.get(transaction=txn)
            if ev.exists and (ev.to_dict() or {}).get("status") == "applied":
                return "duplicate"
            sub_snap = sub_ref.get(transaction=txn)
            sub = sub_snap.to_dict() if sub_snap.exists else new_subscription_doc(fact.subscription_id)
            new_sub, changed = apply_fact(sub, fact)
            customer_id = new_sub.get("customer_id")
            link_ref = None
            if new_sub.get("stripe_customer_id"):
                link_ref = self._links.document(new_sub["stripe_customer_id"])
                if not customer_id:
                    link = link_ref.get(transaction=txn)
                    customer_id = (link.to_dict() or {}).get("customer_id") if link.exists else None
                    new_sub["customer_id"] = customer_id
            customer = None
            if customer_id:
                snap = self._customers.document(customer_id).get(transaction=txn)
                customer = snap.to_dict() if snap.exists else None
            # writes (all reads are done)
            if new_sub != sub or not sub_snap.exists:
                txn.set(sub_ref, new_sub)
            outcome = "applied" if changed else "stale"
            if customer_id:
                view = subscription_view(new_sub, settings)
                if (
                    customer is None
                    or (customer.get("subscriptions") or {}).get(fact.subscription_id) != view
                ):
                    txn.set(
                        self._customers.document(customer_id),
                        entitlements.with_subscription(
                            customer,
                            customer_id,
                            view,
                            settings,
                            stripe_customer_id=new_sub.get("stripe_customer_id"),
                            now=now,
                        ),
                    )
                if link_ref is not None and not (sub.get("customer_id") and sub.get("stripe_customer_id")):
                    txn.set(link_ref, {"customer_id": customer_id, "linked_at": now}, merge=True)
            else:
                outcome = "unlinked"
            txn.set(ev_ref, self._event_record({**record, "status": "applied", "outcome": outcome}))
            return outcome

        return run(self._db.transaction(max_attempts=1))

    # --- customers -------------------------------------------------------------------------------------
    def customer(self, customer_id: str) -> dict[str, Any] | None:
        snap = self._customers.document(customer_id).get()
        return snap.to_dict() if snap.exists else None

    def customers(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._customers.limit(limit).stream()]

    def link_customer(
        self, customer_id: str, stripe_customer_id: str, *, email: str | None, now: datetime
    ) -> None:
        """Our customer ↔ the Stripe customer, both ways (merge: entitlements are left alone)."""
        self._links.document(stripe_customer_id).set(
            {"customer_id": customer_id, "linked_at": now}, merge=True
        )
        fields: dict[str, Any] = {"customer_id": customer_id, "stripe_customer_id": stripe_customer_id}
        if email:
            fields["email"] = email
        self._customers.document(customer_id).set(fields, merge=True)

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        snap = self._subs.document(subscription_id).get()
        return snap.to_dict() if snap.exists else None

    def videos_today(self, customer_id: str, day: str) -> int:
        return sum(1 for _ in self._slots(customer_id, day).select([]).stream())

    # --- manual processing -----------------------------------------------------------------------------
    def record_action(self, key: str, record: dict[str, Any]) -> bool:
        """A Stripe operation that failed after its retries, kept for an operator (create-if-absent)."""
        try:
            self._actions.document(key).create(record)
            return True
        except gexc.AlreadyExists:
            return False

    def actions(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._actions.stream()]

    # --- admission: the job and its slot, in one transaction ---------------------------------------------
    def _slots(self, customer_id: str, day: str) -> Any:
        return (
            self._customers.document(customer_id).collection("video_days").document(day).collection("slots")
        )

    def create_job(
        self, doc: dict[str, Any], *, channel_id: str | None, now: datetime, max_attempts: int = 60
    ) -> tuple[dict[str, Any], bool]:
        """Create the job if the customer's plan allows it, claiming one of the day's video slots in the
        same transaction; the job of an idempotency key seen before is returned without a new claim."""
        customer_id = doc["customer_id"]
        job_ref = self._jobs.document(doc["job_id"])
        cust_ref = self._customers.document(customer_id)
        day, _ = entitlements.billing_day(now, self._settings)
        slots = self._slots(customer_id, day)
        taken: set[str] = set()
        for attempt in range(max_attempts):
            taken |= {s.id for s in slots.select([]).stream()}
            chosen: list[str] = []
            try:
                return firestore.transactional(self._admit)(
                    self._db.transaction(max_attempts=1),
                    job_ref=job_ref,
                    cust_ref=cust_ref,
                    slots=slots,
                    doc=doc,
                    channel_id=channel_id,
                    now=now,
                    taken=frozenset(taken),
                    chosen=chosen,
                )
            except gexc.AlreadyExists:
                taken.update(chosen)  # another request claimed that slot (or created the job) first
            except Exception as e:
                if not contended(e):
                    raise  # a refusal (402/429) or a real failure
            time.sleep(self._rng.uniform(0, min(0.2, 0.01 * (attempt + 1))))
        raise AdmissionUnavailable(
            f"could not claim a video slot for {customer_id} in {max_attempts} attempts"
        )

    def _admit(
        self,
        txn: firestore.Transaction,
        *,
        job_ref: Any,
        cust_ref: Any,
        slots: Any,
        doc: dict[str, Any],
        channel_id: str | None,
        now: datetime,
        taken: frozenset[str],
        chosen: list[str],
    ) -> tuple[dict[str, Any], bool]:
        snap = job_ref.get(transaction=txn)
        if snap.exists:
            return snap.to_dict(), False
        cust = cust_ref.get(transaction=txn)
        admission = entitlements.decide(
            cust.to_dict() if cust.exists else None,
            doc["customer_id"],
            channel_id=channel_id,
            now=now,
            settings=self._settings,
        )
        limit = admission.videos_per_day
        free = [n for n in (f"{i:03d}" for i in range(limit)) if n not in taken]
        if len(taken) >= limit or not free:
            raise entitlements.daily_limit_reached(admission, now=now, settings=self._settings)
        slot = self._rng.choice(free)
        chosen.append(slot)
        txn.create(job_ref, doc)
        txn.create(slots.document(slot), {"job_id": doc["job_id"], "claimed_at": now})
        if admission.new_channel:
            txn.update(cust_ref, {"channels_used": firestore.ArrayUnion([admission.new_channel])})
        return doc, True

"""Budgets: money (integer micro-dollars) and ElevenLabs characters, reserved before a provider call and
settled with the actual amount after, each in one Firestore transaction over every limit it touches.

Limits (settings, the seed's defaults): LLM per video $0.40, OpenAI per day $50, all providers per day
$150 and per month $4,500, all providers per video $3.00, ElevenLabs characters per month 100,000.
A reservation that would take any of them over raises OverBudget and writes nothing; the chain then
falls back (economy model, template, another voice) and the job records why. Estimates are upper bounds
(an LLM call's is its prompt plus max_tokens), so settled spending never passes a limit either.
Days and months are UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.config import Settings
from shared.ports import LedgerStore

MICROS = 1_000_000

# What a call is: which limits it counts against.
KINDS: dict[str, tuple[str, ...]] = {
    "llm": ("llm_per_video", "openai_per_day", "all_per_day", "all_per_month", "all_per_video"),
    "openai_image": ("openai_per_day", "all_per_day", "all_per_month", "all_per_video"),
    "tts": ("all_per_day", "all_per_month", "all_per_video"),
    "stock": ("all_per_day", "all_per_month", "all_per_video"),
}


def to_micros(amount: Decimal | str | int) -> int:
    return int((Decimal(amount) * MICROS).to_integral_value())


def from_micros(value: int) -> Decimal:
    return (Decimal(value) / MICROS).quantize(Decimal("0.000001"))


@dataclass(frozen=True)
class Charge:
    """One limit a reservation counts against: its ledger document, its limit and the amount."""

    doc_id: str
    label: str  # e.g. "OpenAI per day" (for the reason recorded on a job)
    limit: int
    amount: int
    unit: str = "usd"  # usd (micro-dollars) | chars


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    charges: tuple[Charge, ...]


class OverBudget(Exception):
    def __init__(self, charge: Charge, used: int):
        self.charge = charge
        self.used = used
        super().__init__(
            f"{charge.label} budget: {_fmt(charge.amount, charge.unit)} more would pass "
            f"{_fmt(charge.limit, charge.unit)} ({_fmt(used, charge.unit)} spent or reserved)"
        )


def _fmt(value: int, unit: str) -> str:
    return f"${from_micros(value)}" if unit == "usd" else f"{value:,} characters"


class Budgets:
    def __init__(self, store: LedgerStore, settings: Settings, clock: Callable[[], datetime] | None = None):
        self._store = store
        self._s = settings
        self._clock = clock or (lambda: datetime.now(UTC))

    # --- planning --------------------------------------------------------------------------------------
    def charges(
        self, kind: str, job_id: str, cost_usd: Decimal, *, elevenlabs_chars: int = 0
    ) -> list[Charge]:
        s, now = self._s, self._clock()
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        amount = to_micros(cost_usd)
        limits = {
            "llm_per_video": (f"llm-video:{job_id}", "LLM per video", s.budget_llm_per_video_usd),
            "openai_per_day": (f"openai-day:{day}", "OpenAI per day", s.budget_openai_per_day_usd),
            "all_per_day": (f"all-day:{day}", "all providers per day", s.budget_all_per_day_usd),
            "all_per_month": (f"all-month:{month}", "all providers per month", s.budget_all_per_month_usd),
            "all_per_video": (f"all-video:{job_id}", "all providers per video", s.budget_per_video_usd),
        }
        out = [
            Charge(
                doc_id=limits[name][0], label=limits[name][1], limit=to_micros(limits[name][2]), amount=amount
            )
            for name in KINDS[kind]
        ]
        if elevenlabs_chars:
            out.append(
                Charge(
                    doc_id=f"elevenlabs-chars:{month}",
                    label="ElevenLabs characters per month",
                    limit=s.elevenlabs_monthly_char_limit,
                    amount=elevenlabs_chars,
                    unit="chars",
                )
            )
        return out

    # --- reserve / settle / release ---------------------------------------------------------------------
    def reserve(self, charges: list[Charge]) -> Reservation:
        """Reserve every charge at once, or none (OverBudget names the first limit that would pass)."""
        reservation = Reservation(uuid.uuid4().hex, tuple(charges))
        now = self._clock()
        result = self._store.transact(
            [c.doc_id for c in charges], lambda docs: reserve_transition(docs, charges, now)
        )
        if isinstance(result, OverBudget):
            raise result
        return reservation

    def settle(self, reservation: Reservation, actual: dict[str, int] | int) -> None:
        """Replace the reserved amounts with the actual ones: an int applies to every money charge,
        a dict gives amounts per unit ({"usd": micros, "chars": n})."""
        amounts = actual if isinstance(actual, dict) else {"usd": actual}
        now = self._clock()
        self._store.transact(
            [c.doc_id for c in reservation.charges],
            lambda docs: settle_transition(docs, reservation.charges, amounts, now),
        )

    def release(self, reservation: Reservation) -> None:
        self.settle(reservation, {"usd": 0, "chars": 0})

    def usage(self, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
        return self._store.transact(doc_ids, lambda docs: (docs, {}))


def reserve_transition(
    docs: dict[str, dict[str, Any]], charges: list[Charge], now: datetime
) -> tuple[Any, dict[str, dict[str, Any]]]:
    for charge in charges:
        doc = docs.get(charge.doc_id) or {}
        used = int(doc.get("spent", 0)) + int(doc.get("reserved", 0))
        if used + charge.amount > charge.limit:
            return OverBudget(charge, used), {}
    writes = {}
    for charge in charges:
        doc = dict(docs.get(charge.doc_id) or {})
        doc.update(
            reserved=int(doc.get("reserved", 0)) + charge.amount,
            spent=int(doc.get("spent", 0)),
            limit=charge.limit,
            unit=charge.unit,
            label=charge.label,
            updated_at=now,
        )
        writes[charge.doc_id] = doc
    return None, writes


def settle_transition(
    docs: dict[str, dict[str, Any]], charges: tuple[Charge, ...], actual: dict[str, int], now: datetime
) -> tuple[None, dict[str, dict[str, Any]]]:
    writes = {}
    for charge in charges:
        doc = dict(docs.get(charge.doc_id) or {})
        doc["reserved"] = max(0, int(doc.get("reserved", 0)) - charge.amount)
        doc["spent"] = int(doc.get("spent", 0)) + int(actual.get(charge.unit, charge.amount))
        doc["updated_at"] = now
        writes[charge.doc_id] = doc
    return None, writes

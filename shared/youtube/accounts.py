"""The YouTube account pool: one small Firestore document per account, and the operator notifications
about accounts (an account that needs re-authorisation).

An account has a tier (active/reserve), a status (healthy, cooling_down, needs_reauth, disabled), a
daily upload cap, its error history (consecutive failures, an error rate), when it was last used, the
channel it publishes to and the quota pool (OAuth client / Google Cloud project) it draws from.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from shared.config import Settings

PACIFIC = ZoneInfo("America/Los_Angeles")

Tier = Literal["active", "reserve"]
Status = Literal["healthy", "cooling_down", "needs_reauth", "disabled"]
ACCOUNT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class Account(BaseModel):
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    tier: Tier = "active"
    status: Status = "healthy"
    channel_id: str | None = None
    pool: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
    daily_upload_cap: int | None = Field(default=None, ge=0)  # None: the tier's cap from the settings
    consecutive_failures: int = 0
    error_rate: float = Field(default=0.0, ge=0, le=1)
    calls: int = 0
    errors: int = 0
    last_used_at: datetime | None = None
    cooldown_until: datetime | None = None
    status_reason: str | None = None
    email: str | None = None
    authorized_at: datetime | None = None

    def cap(self, settings: Settings) -> int:
        if self.daily_upload_cap is not None:
            return self.daily_upload_cap
        return settings.account_daily_upload_cap.get(self.tier, 0)

    def effective_status(self, now: datetime) -> Status:
        """A cool-down that has passed counts as healthy (the next outcome writes it back)."""
        if self.status == "cooling_down" and self.cooldown_until is not None and self.cooldown_until <= now:
            return "healthy"
        return self.status

    def hours_since_use(self, now: datetime) -> float:
        if self.last_used_at is None:
            return 24.0 * 365
        return max(0.0, (now - self.last_used_at).total_seconds() / 3600)


class NoAccountAvailable(Exception):
    pass


def pacific_day(now: datetime) -> str:
    """The quota day `now` falls in: YouTube quotas reset at midnight America/Los_Angeles."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_pacific_midnight(now: datetime) -> datetime:
    """When YouTube quotas reset: the next midnight in America/Los_Angeles, as an aware datetime."""
    local = now.astimezone(PACIFIC)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)


def day_end(day: str) -> datetime:
    """The end of a Pacific quota day, in UTC."""
    start = datetime.combine(date.fromisoformat(day), time(0), tzinfo=PACIFIC)
    return next_pacific_midnight(start).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class FirestoreAccounts:
    """The `accounts` collection (one document per account) and the `notifications` collection."""

    def __init__(
        self,
        client: Any,
        settings: Settings,
        *,
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        from shared.gcp.optimistic import Backoff

        self._db = client
        self._settings = settings
        self._now = now
        self._rng = rng or random.Random()
        self._col = client.collection(f"{settings.collection_prefix}accounts")
        self._notes = client.collection(f"{settings.collection_prefix}notifications")
        self._backoff = Backoff(
            settings.ledger_max_attempts, settings.ledger_backoff_base_s, settings.ledger_backoff_max_s
        )

    # --- reading and writing accounts ------------------------------------------------------------------
    def list(self) -> list[Account]:
        return sorted(
            (Account.model_validate(s.to_dict()) for s in self._col.stream()), key=lambda a: a.account_id
        )

    def get(self, account_id: str) -> Account | None:
        snap = self._col.document(account_id).get()
        return Account.model_validate(snap.to_dict()) if snap.exists else None

    def put(self, account: Account) -> None:
        self._col.document(account.account_id).set(account.model_dump())

    def add(self, account: Account) -> bool:
        """Create the account if absent; False when it already exists (nothing changed)."""
        from google.api_core import exceptions as gexc

        try:
            self._col.document(account.account_id).create(account.model_dump())
            return True
        except gexc.AlreadyExists:
            return False

    def update(self, account_id: str, **fields: Any) -> None:
        self._col.document(account_id).update(fields)

    def set_status(
        self, account_id: str, status: Status, reason: str | None = None, *, until: datetime | None = None
    ) -> None:
        self.update(account_id, status=status, status_reason=reason, cooldown_until=until)

    def bind_channel(self, account_id: str, channel_id: str) -> None:
        """After a successful authorisation: the channel is bound and the account is usable."""
        self.update(
            account_id,
            channel_id=channel_id,
            status="healthy",
            status_reason=None,
            cooldown_until=None,
            consecutive_failures=0,
            authorized_at=self._now(),
        )

    # --- outcomes of calls ------------------------------------------------------------------------------
    def record_outcome(self, account_id: str, *, ok: bool, counts_as_error: bool = True) -> Account | None:
        """One call's outcome on the account: last use, error rate (moving average), failures in a row.
        Too many failures in a row cool the account down. Returns the account as written."""
        from shared.gcp.optimistic import optimistic_update

        s, now = self._settings, self._now()
        alpha = s.account_error_rate_alpha

        def mutate(doc: dict[str, Any] | None) -> tuple[Account | None, dict | None, list]:
            if doc is None:
                return None, None, []
            a = Account.model_validate(doc)
            failed = not ok and counts_as_error
            changes: dict[str, Any] = {
                "last_used_at": now,
                "calls": a.calls + 1,
                "errors": a.errors + int(failed),
                "error_rate": round((1 - alpha) * a.error_rate + (alpha if failed else 0.0), 6),
                "consecutive_failures": a.consecutive_failures + 1 if failed else 0,
            }
            if a.status == "cooling_down" and a.effective_status(now) == "healthy":
                changes.update(status="healthy", status_reason=None, cooldown_until=None)
            too_many = changes["consecutive_failures"] >= s.account_max_consecutive_failures
            if failed and too_many and a.status == "healthy":
                changes.update(
                    status="cooling_down",
                    status_reason=f"{changes['consecutive_failures']} failures in a row",
                    cooldown_until=now + timedelta(seconds=s.account_failure_cooldown_s),
                )
            return a.model_copy(update=changes), changes, []

        return optimistic_update(
            self._db, self._col.document(account_id), mutate, backoff=self._backoff, rng=self._rng
        )

    def cool_down(self, account_id: str, seconds: int, reason: str) -> None:
        self.set_status(account_id, "cooling_down", reason, until=self._now() + timedelta(seconds=seconds))

    def mark_needs_reauth(self, account_id: str, reason: str) -> bool:
        """The account's token no longer works: it leaves the rotation and the operator is told (one
        notification per account and day). True when a new notification was written."""
        from google.api_core import exceptions as gexc

        now = self._now()
        account = self.get(account_id)
        self.set_status(account_id, "needs_reauth", reason)
        note = {
            "kind": "account_needs_reauth",
            "account_id": account_id,
            "channel_id": account.channel_id if account else None,
            "pool": account.pool if account else None,
            "reason": reason[:500],
            "action": f"ytempire accounts authorize {account_id}",
            "status": "pending",
            "created_at": now,
        }
        try:
            self._notes.document(f"needs-reauth-{account_id}-{pacific_day(now)}").create(note)
            return True
        except gexc.AlreadyExists:
            return False

    def notifications(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._notes.stream()]

"""The YouTube account pool as the chain sees it today: accounts in Firestore, one picked per upload.

(The rotation score, quota ledgers and the error matrix build on this in shared/youtube later.)
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

PACIFIC = ZoneInfo("America/Los_Angeles")


class Account(BaseModel):
    account_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    tier: Literal["active", "reserve"] = "active"
    status: Literal["healthy", "cooling_down", "needs_reauth", "disabled"] = "healthy"
    channel_id: str | None = None
    pool: str = "default"
    daily_upload_cap: int = 5


class NoAccountAvailable(Exception):
    pass


def choose_account(accounts: list[Account], channel_id: str | None = None) -> Account:
    """The account publishing to `channel_id` when asked for, else the first healthy active one."""
    usable = [a for a in accounts if a.status == "healthy"]
    if channel_id:
        for a in usable:
            if a.channel_id == channel_id:
                return a
        raise NoAccountAvailable(f"no healthy account publishes to channel {channel_id}")
    ordered = sorted(usable, key=lambda a: (a.tier != "active", a.account_id))
    if not ordered:
        raise NoAccountAvailable("no healthy YouTube account in the pool")
    return ordered[0]


def next_pacific_midnight(now: datetime) -> datetime:
    """When YouTube quotas reset: the next midnight in America/Los_Angeles, as an aware datetime."""
    local = now.astimezone(PACIFIC)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)


class FirestoreAccounts:
    """Accounts collection on Firestore (one small document per account)."""

    def __init__(self, client: Any, collection_prefix: str = "") -> None:
        self._col = client.collection(f"{collection_prefix}accounts")

    def list(self) -> list[Account]:
        return [Account.model_validate(s.to_dict()) for s in self._col.stream()]

    def get(self, account_id: str) -> Account | None:
        snap = self._col.document(account_id).get()
        return Account.model_validate(snap.to_dict()) if snap.exists else None

    def put(self, account: Account) -> None:
        self._col.document(account.account_id).set(account.model_dump())

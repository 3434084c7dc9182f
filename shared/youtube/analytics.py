"""The scheduled analytics pull (`analytics_sync`): each authorised channel's daily statistics from
YouTube Analytics v2 (reports.query, dimensions=day) into Firestore, one document per channel and day
(`channel_stats/{account}_{day}`). Every query is charged to its pool's analytics category first; a
pool without analytics quota left today is skipped, not overdrawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.cloud.firestore_v1 import FieldFilter

from shared.config import Settings
from shared.log import get_logger, log_context
from shared.ports import ProviderError
from shared.youtube.accounts import PACIFIC
from shared.youtube.ledger import QuotaUnavailable

log = get_logger("youtube.analytics")
REPORT = "youtubeAnalytics.reports.query"


@dataclass
class AnalyticsReport:
    channels: int = 0
    days_stored: int = 0
    skipped_no_quota: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FirestoreChannelStats:
    def __init__(self, client: Any, settings: Settings) -> None:
        self._col = client.collection(f"{settings.collection_prefix}channel_stats")

    def put_day(
        self, account_id: str, channel_id: str, day: str, metrics: dict[str, Any], now: datetime
    ) -> None:
        self._col.document(f"{account_id}_{day}").set(
            {"account_id": account_id, "channel_id": channel_id, "day": day, **metrics, "synced_at": now}
        )

    def for_account(self, account_id: str) -> list[dict[str, Any]]:
        query = self._col.where(filter=FieldFilter("account_id", "==", account_id))
        return sorted((s.to_dict() for s in query.stream()), key=lambda d: d["day"])


def sync_channel_stats(
    *,
    settings: Settings,
    accounts: Any,
    ledger: Any,
    analytics: Any,
    stats: FirestoreChannelStats,
    now: Callable[[], datetime],
) -> AnalyticsReport:
    report = AnalyticsReport()
    today = now().astimezone(PACIFIC).date()
    start = (today - timedelta(days=settings.analytics_lookback_days)).isoformat()
    end = (today - timedelta(days=1)).isoformat()
    for account in accounts.list():
        if account.status != "healthy" or not account.channel_id:
            continue
        report.channels += 1
        with log_context(account=account.account_id):
            try:
                with ledger.metered(account.pool, REPORT):
                    table = analytics.channel_report(
                        account.account_id, start_date=start, end_date=end, metrics=settings.analytics_metrics
                    )
            except QuotaUnavailable as e:
                report.skipped_no_quota.append(account.account_id)
                log.warning("analytics skipped: no quota", extra={"reason": e.reason})
                continue
            except ProviderError as e:
                report.failed.append(account.account_id)
                log.warning("analytics query failed", extra={"reason": e.reason})
                continue
            columns = table["columns"]
            for row in table["rows"]:
                values = dict(zip(columns, row, strict=False))
                day = str(values.pop("day"))
                stats.put_day(account.account_id, account.channel_id, day, values, now())
                report.days_stored += 1
    return report

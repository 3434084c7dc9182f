"""The scheduled token check (`token_refresh`): every account's token that expires within the refresh
buffer (5 minutes) is refreshed now, so uploads rarely wait on the token endpoint.

A revoked token (invalid_grant) takes the account out of the rotation as `needs_reauth` and tells the
operator; a token endpoint that is down or answering 5xx is retried (TokenStore: 3 tries) and otherwise
left for the next run — never treated as a revocation.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.log import get_logger, log_context
from shared.ports import ProviderError
from shared.youtube.tokens import REAUTH_REASONS

log = get_logger("youtube.refresh")


@dataclass
class RefreshReport:
    checked: int = 0
    refreshed: list[str] = field(default_factory=list)
    needs_reauth: list[str] = field(default_factory=list)
    failed_transient: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def refresh_due_tokens(*, accounts: Any, tokens: Any, workers: int = 8) -> RefreshReport:
    """Check every account's token (a few at a time: each check reads its secret) within one run."""
    report = RefreshReport()
    due = [a.account_id for a in accounts.list() if a.status not in ("disabled", "needs_reauth")]
    report.checked = len(due)

    def check(account_id: str) -> tuple[str, str, str]:
        with log_context(account=account_id):
            try:
                return account_id, ("refreshed" if tokens.refresh_if_due(account_id) else "valid"), ""
            except ProviderError as e:
                if e.reason in REAUTH_REASONS:
                    accounts.mark_needs_reauth(account_id, e.reason)
                    log.error("token revoked; account needs re-authorisation", extra={"reason": e.reason})
                    return account_id, "needs_reauth", e.reason
                log.warning("token refresh failed; next run tries again", extra={"reason": e.reason})
                return account_id, "failed_transient", e.reason

    with ThreadPoolExecutor(max(1, workers)) as pool:
        outcomes = list(pool.map(check, due))
    for account_id, outcome, _ in outcomes:
        if outcome != "valid":
            getattr(report, outcome).append(account_id)
    return report

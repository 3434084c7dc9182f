"""The scheduled token check (`token_refresh`): every account's token that expires within the refresh
buffer (5 minutes) is refreshed now, so uploads rarely wait on the token endpoint.

A revoked token (invalid_grant) takes the account out of the rotation as `needs_reauth` and tells the
operator; a token endpoint that is down or answering 5xx is retried (TokenStore: 3 tries) and otherwise
left for the next run — never treated as a revocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.log import get_logger, log_context
from shared.ports import ProviderError
from shared.youtube.uploader import REAUTH_REASONS

log = get_logger("youtube.refresh")


@dataclass
class RefreshReport:
    checked: int = 0
    refreshed: list[str] = field(default_factory=list)
    needs_reauth: list[str] = field(default_factory=list)
    failed_transient: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def refresh_due_tokens(*, accounts: Any, tokens: Any) -> RefreshReport:
    report = RefreshReport()
    for account in accounts.list():
        if account.status in ("disabled", "needs_reauth"):
            continue
        report.checked += 1
        with log_context(account=account.account_id):
            try:
                if tokens.refresh_if_due(account.account_id):
                    report.refreshed.append(account.account_id)
            except ProviderError as e:
                if e.reason in REAUTH_REASONS:
                    accounts.mark_needs_reauth(account.account_id, e.reason)
                    report.needs_reauth.append(account.account_id)
                    log.error("token revoked; account needs re-authorisation", extra={"reason": e.reason})
                else:
                    report.failed_transient.append(account.account_id)
                    log.warning("token refresh failed; next run tries again", extra={"reason": e.reason})
    return report

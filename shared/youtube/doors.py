"""The HTTP doors of the account-pool functions: parse, call one library function, map the outcome to a
status code (as shared/doors.py does for the chain). functions/*.py import these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.bootstrap import container
from shared.log import get_logger, log_context, trace_from_header
from shared.ports import ProviderError
from shared.web import BadRequest, Reply, error_reply, parse_json_body, reply, require_method
from shared.youtube.accounts import ACCOUNT_ID_PATTERN, utcnow

log = get_logger("youtube.doors")


class StartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)


def _traced(request: Any, project_id: str) -> Any:
    return log_context(trace=trace_from_header(request.headers.get("X-Cloud-Trace-Context"), project_id))


def oauth_start(request: Any) -> Reply:
    """POST {"account_id"} → 200 {"account_id", "authorization_url", "expires_at"}."""
    from shared.youtube import oauth

    c = container()
    with _traced(request, c.settings.project_id):
        try:
            require_method(request, "POST")
            body = parse_json_body(request, StartBody, max_bytes=1024)
        except BadRequest as e:
            return error_reply(str(e), e.status, e.field)
        account = c.accounts.get(body.account_id)
        if account is None:
            return error_reply(
                f"account {body.account_id} not found: `ytempire accounts add` it first", 404, "account_id"
            )
        try:
            auth = oauth.start(c.settings, account, utcnow())
        except oauth.OAuthRejected as e:
            return error_reply(str(e), e.status, e.field)
        return reply(
            {
                "account_id": auth.account_id,
                "authorization_url": auth.url,
                "expires_at": auth.expires_at.isoformat(),
            }
        )


def oauth_callback(request: Any) -> Reply:
    """Google redirects the operator's browser here: ?code&state (or ?error&state)."""
    from shared.youtube import oauth
    from shared.youtube.ledger import QuotaUnavailable

    c = container()
    with _traced(request, c.settings.project_id):
        try:
            require_method(request, "GET")
        except BadRequest as e:
            return error_reply(str(e), e.status, e.field)
        args = request.args
        try:
            done = oauth.complete(
                c.settings,
                state=args.get("state"),
                code=args.get("code"),
                error=args.get("error"),
                accounts=c.accounts,
                nonces=c.oauth_nonces,
                tokens=c.tokens,
                youtube=c.youtube,
                ledger=c.ledger,
                now=utcnow,
            )
        except oauth.OAuthRejected as e:
            log.warning("authorisation rejected", extra={"reason": str(e)})
            return error_reply(str(e), e.status, e.field)
        except QuotaUnavailable as e:
            return error_reply(f"the pool has no quota left today ({e.reason}); retry after the reset", 503)
        except ProviderError as e:
            return error_reply(f"YouTube: {e}", 503 if e.transient else 502)
        log.info("account authorised", extra={"account": done.account_id, "channel_id": done.channel_id})
        return reply(
            {
                "account_id": done.account_id,
                "channel_id": done.channel_id,
                "pool": done.pool,
                "status": "authorized",
            }
        )


def token_refresh(request: Any) -> Reply:
    """Cloud Scheduler, every minute: refresh every token expiring within the buffer."""
    from shared.youtube.refresh import refresh_due_tokens

    c = container()
    with _traced(request, c.settings.project_id):
        report = refresh_due_tokens(accounts=c.accounts, tokens=c.tokens)
        return reply(report.to_json())


def analytics_sync(request: Any) -> Reply:
    """Cloud Scheduler, daily: channel statistics from YouTube Analytics v2 into Firestore."""
    from shared.youtube.analytics import sync_channel_stats

    c = container()
    with _traced(request, c.settings.project_id):
        report = sync_channel_stats(
            settings=c.settings,
            accounts=c.accounts,
            ledger=c.ledger,
            analytics=c.analytics,
            stats=c.channel_stats,
            now=utcnow,
        )
        return reply(report.to_json())

"""OAuth tokens of the YouTube accounts: one Secret Manager secret per account, refreshed before use.

A token record is JSON in the secret `settings.token_secret_prefix + account_id`. `TokenStore.credentials`
hands out google-auth credentials whose access token is valid for at least `token_refresh_buffer_s`,
refreshing through the token endpoint and storing the new record (a new secret version) when needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.config import Settings
from shared.ports import ProviderError, SecretStore

PROVIDER = "youtube"
# OAuth error codes that mean "try again later" (RFC 6749 section 4.1.2.1 and Google's own).
_RETRYABLE_OAUTH_ERRORS = {"server_error", "temporarily_unavailable", "internal_failure"}


class TokenRecord(BaseModel):
    """What Secret Manager holds for one account. `expiry` is UTC."""

    model_config = ConfigDict(frozen=True)

    refresh_token: str
    access_token: str = ""
    expiry: datetime | None = None
    client_id: str
    token_uri: str
    scopes: list[str] = []

    @field_validator("expiry")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when there is no usable access token `seconds` from now."""
        if not self.access_token or self.expiry is None:
            return True
        return self.expiry - (now or datetime.now(UTC)) <= timedelta(seconds=seconds)

    def to_credentials(self, client_secret: str) -> Credentials:
        return Credentials(
            token=self.access_token or None,
            refresh_token=self.refresh_token,
            token_uri=self.token_uri,
            client_id=self.client_id,
            client_secret=client_secret,
            scopes=self.scopes or None,
            # google-auth compares against a naive UTC clock.
            expiry=self.expiry.astimezone(UTC).replace(tzinfo=None) if self.expiry else None,
        )

    @classmethod
    def from_credentials(cls, credentials: Credentials) -> TokenRecord:
        return cls(
            refresh_token=credentials.refresh_token,
            access_token=credentials.token or "",
            expiry=credentials.expiry,
            client_id=credentials.client_id,
            token_uri=credentials.token_uri,
            scopes=list(credentials.scopes or []),
        )


def client_secret(settings: Settings, client_id: str) -> str:
    """The secret of OAuth client `client_id` (see Settings.youtube_client_secrets)."""
    raw = settings.youtube_client_secrets.get_secret_value()
    if raw:
        try:
            by_client = json.loads(raw)
        except ValueError:
            raise ValueError("youtube_client_secrets must be a JSON object {client_id: secret}") from None
        if isinstance(by_client, dict) and isinstance(by_client.get(client_id), str):
            return by_client[client_id]
    return settings.youtube_client_secret.get_secret_value()


def oauth_client_id(settings: Settings, pool: str) -> str:
    """The OAuth client (Google Cloud project) of a quota pool."""
    return settings.youtube_oauth_clients.get(pool) or settings.youtube_client_id


class TokenError(ProviderError):
    """The account's OAuth token could not be loaded or refreshed (no YouTube API call was made)."""


# Token failures after which only a new authorisation helps.
REAUTH_REASONS = frozenset(
    {"invalid_grant", "token_missing", "token_invalid", "invalid_client", "unauthorized_client"}
)


def refresh_failure(exc: Exception, account_id: str) -> ProviderError:
    """A TokenError for a failed token refresh; never carries the client secret or a token."""
    if isinstance(exc, TransportError):
        return TokenError(
            f"token endpoint unreachable for account {account_id}",
            transient=True,
            provider=PROVIDER,
            reason="token_endpoint_unavailable",
        )
    transient, reason = _classify_refresh_error(exc)
    return TokenError(
        f"token refresh failed for account {account_id}: {reason}",
        transient=transient,
        provider=PROVIDER,
        reason=reason,
    )


def _classify_refresh_error(exc: Exception) -> tuple[bool, str]:
    data = exc.args[1] if isinstance(exc, RefreshError) and len(exc.args) > 1 else None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str) and error:
        return (error in _RETRYABLE_OAUTH_ERRORS or bool(getattr(exc, "retryable", False))), error
    if getattr(exc, "retryable", False):
        return True, "token_endpoint_unavailable"
    message = str(exc.args[0]) if exc.args else ""
    if "scopes" in message:  # google-auth's own check: fewer scopes granted than asked for
        return False, "insufficient_scopes"
    # No OAuth error in the body: a gateway or proxy answered (e.g. an HTML 502 page).
    return True, "token_endpoint_unavailable"


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, RefreshError) and _classify_refresh_error(exc)[0]


class TokenStore:
    """Loads, refreshes and stores the OAuth token of each YouTube account."""

    def __init__(self, settings: Settings, secrets: SecretStore) -> None:
        self._settings = settings
        self._secrets = secrets

    def secret_name(self, account_id: str) -> str:
        return f"{self._settings.token_secret_prefix}{account_id}"

    def load(self, account_id: str) -> TokenRecord:
        try:
            raw = self._secrets.get(self.secret_name(account_id))
        except KeyError:
            raise TokenError(
                f"no OAuth token stored for account {account_id}",
                transient=False,
                provider=PROVIDER,
                reason="token_missing",
            ) from None
        try:
            return TokenRecord.model_validate_json(raw)
        except ValidationError:
            # The validation error would echo the secret's content: keep it out of the message and chain.
            raise TokenError(
                f"the stored OAuth token of account {account_id} is not a token record",
                transient=False,
                provider=PROVIDER,
                reason="token_invalid",
            ) from None

    def save(self, account_id: str, record: TokenRecord) -> None:
        self._secrets.put(self.secret_name(account_id), record.model_dump_json())

    def credentials(self, account_id: str) -> Credentials:
        """Credentials with an access token valid for at least the refresh buffer."""
        record = self.load(account_id)
        if record.expires_within(self._settings.token_refresh_buffer_s):
            record = self._refresh(account_id, record)
        return record.to_credentials(self.client_secret(record.client_id))

    def refresh_if_due(self, account_id: str) -> bool:
        """The scheduled proactive check: refresh when within the buffer. True when refreshed."""
        record = self.load(account_id)
        if not record.expires_within(self._settings.token_refresh_buffer_s):
            return False
        self._refresh(account_id, record)
        return True

    def refresh(self, account_id: str) -> TokenRecord:
        """Refresh now, whatever the expiry (e.g. after the API said 401), and store the result."""
        return self._refresh(account_id, self.load(account_id))

    def client_secret(self, client_id: str) -> str:
        """The secret of an OAuth client: from youtube_client_secrets when listed there (one client per
        quota pool), else youtube_client_secret."""
        return client_secret(self._settings, client_id)

    def _refresh(self, account_id: str, record: TokenRecord) -> TokenRecord:
        credentials = record.to_credentials(self.client_secret(record.client_id))
        retrying = Retrying(
            stop=stop_after_attempt(self._settings.token_refresh_attempts),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        try:
            with requests.Session() as session:
                request = _TimedRequest(session, self._settings.youtube_http_timeout_s)
                for attempt in retrying:
                    with attempt:
                        credentials.refresh(request)
        except (RefreshError, TransportError) as exc:
            raise refresh_failure(exc, account_id) from exc
        refreshed = TokenRecord.from_credentials(credentials)
        self.save(account_id, refreshed)
        return refreshed


class _TimedRequest(Request):
    """google-auth's requests transport with this project's timeout instead of its 120 s default."""

    def __init__(self, session: requests.Session, timeout_s: float) -> None:
        super().__init__(session)
        self._timeout_s = timeout_s

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **kwargs: Any):
        kwargs.setdefault("timeout", self._timeout_s)
        return super().__call__(url, method=method, body=body, headers=headers, **kwargs)

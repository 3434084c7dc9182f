"""TokenRecord and TokenStore without a network: storage, expiry decisions, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.auth.exceptions import RefreshError, TransportError
from pydantic import SecretStr

from shared.config import Settings
from shared.ports import ProviderError
from shared.youtube.tokens import TokenRecord, TokenStore, refresh_failure


class DictSecrets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str:
        return self.values[name]

    def put(self, name: str, value: str) -> None:
        self.values[name] = value


def record(**changes: object) -> TokenRecord:
    base = {
        "refresh_token": "1//rt",
        "access_token": "ya29.a",
        "client_id": "cid",
        "token_uri": "http://t/token",
    }
    return TokenRecord.model_validate({**base, **changes})


def test_a_record_round_trips_through_its_secret_with_a_utc_expiry() -> None:
    settings = Settings(token_secret_prefix="yt-")
    secrets = DictSecrets()
    store = TokenStore(settings, secrets)
    naive_utc = datetime(2026, 11, 22, 10, 0, 0)

    store.save("acct-1", record(expiry=naive_utc, scopes=["s"]))

    assert store.secret_name("acct-1") == "yt-acct-1" and "yt-acct-1" in secrets.values
    loaded = store.load("acct-1")
    assert loaded.expiry == naive_utc.replace(tzinfo=UTC)
    credentials = loaded.to_credentials("secret")
    assert credentials.expiry == naive_utc  # google-auth's naive UTC
    assert (credentials.refresh_token, credentials.client_id, credentials.token_uri) == (
        "1//rt",
        "cid",
        "http://t/token",
    )
    assert TokenRecord.from_credentials(credentials) == loaded


@pytest.mark.parametrize(
    ("expires_in", "due"),
    [(timedelta(hours=-1), True), (timedelta(seconds=299), True), (timedelta(seconds=301), False)],
)
def test_a_token_is_due_within_the_buffer(expires_in: timedelta, due: bool) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert record(expiry=now + expires_in).expires_within(300, now=now) is due


def test_a_token_without_access_token_or_expiry_is_due() -> None:
    assert record(access_token="").expires_within(300) is True
    assert record(expiry=None).expires_within(300) is True


def test_a_missing_or_unreadable_secret_is_a_permanent_error_without_its_content() -> None:
    secrets = DictSecrets()
    store = TokenStore(Settings(), secrets)
    with pytest.raises(ProviderError) as missing:
        store.load("nobody")
    assert (missing.value.transient, missing.value.reason) == (False, "token_missing")

    secrets.put(store.secret_name("broken"), '{"refresh_token": "1//leaky-value"}')
    with pytest.raises(ProviderError) as broken:
        store.load("broken")
    assert (broken.value.transient, broken.value.reason) == (False, "token_invalid")
    assert "leaky-value" not in str(broken.value) and broken.value.__cause__ is None


@pytest.mark.parametrize(
    ("error", "transient", "reason"),
    [
        (
            RefreshError("invalid_grant: revoked", {"error": "invalid_grant"}, retryable=False),
            False,
            "invalid_grant",
        ),
        (
            RefreshError("invalid_client: x", {"error": "invalid_client"}, retryable=False),
            False,
            "invalid_client",
        ),
        (RefreshError("server_error: x", {"error": "server_error"}, retryable=True), True, "server_error"),
        (RefreshError("<html>502 Bad Gateway</html>", retryable=False), True, "token_endpoint_unavailable"),
        (
            RefreshError("Not all requested scopes were granted", retryable=False),
            False,
            "insufficient_scopes",
        ),
        (TransportError("connection refused"), True, "token_endpoint_unavailable"),
    ],
)
def test_refresh_failures_map_to_provider_errors(error: Exception, transient: bool, reason: str) -> None:
    mapped = refresh_failure(error, "acct-9")
    assert (mapped.transient, mapped.reason, mapped.provider) == (transient, reason, "youtube")
    assert "acct-9" in str(mapped)


def test_the_client_secret_reaches_credentials_but_not_the_stored_record() -> None:
    secrets = DictSecrets()
    settings = Settings(youtube_client_secret=SecretStr("shh-client-secret"))
    store = TokenStore(settings, secrets)
    store.save("a", record(expiry=datetime.now(UTC) + timedelta(hours=1)))

    credentials = store.credentials("a")  # far from expiry: no refresh, no network

    assert credentials.client_secret == "shh-client-secret"
    assert "shh-client-secret" not in secrets.values[store.secret_name("a")]

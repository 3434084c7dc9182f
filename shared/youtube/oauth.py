"""Onboarding a YouTube account: OAuth 2.0 authorization code flow with PKCE (S256) and a signed state.

`start` builds Google's authorization URL for an account: its pool's OAuth client, the scopes of the
settings (youtube.upload, youtube, youtube.force-ssl, yt-analytics.readonly), `access_type=offline`
and `prompt=consent` (so Google returns a refresh token every time), and a `state` that is
`base64url(payload).base64url(HMAC-SHA256(secret, payload))`, the payload binding the account, a random
nonce and an expiry. The PKCE verifier is derived from the secret and the nonce (HMAC again), so
nothing needs storing before the callback and the verifier never leaves the server.

`complete` (the callback) rejects a missing, malformed, tampered or expired state before any write,
then consumes the nonce with create-if-absent (a replayed state finds it taken: rejected, nothing
written), exchanges the code, stores the token (Secret Manager, one secret per account), reads
channels.list(mine=true) — charged to the pool's quota — and binds the channel to the account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from shared.config import Settings, function_url
from shared.ports import ProviderError
from shared.youtube.tokens import TokenRecord, client_secret, oauth_client_id

STATE_VERSION = 1


class OAuthRejected(Exception):
    """The request cannot complete an authorisation (400); `field` names what is wrong."""

    def __init__(self, message: str, field: str = "state", status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass(frozen=True)
class StatePayload:
    account_id: str
    nonce: str
    expires_at: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _key(settings: Settings) -> bytes:
    key = settings.oauth_state_secret.get_secret_value()
    if len(key) < 16:
        # Never sign with an empty or short key: onboarding is refused rather than made forgeable.
        raise OAuthRejected("onboarding is not configured: oauth_state_secret is missing", "state", 503)
    return key.encode()


def sign_state(settings: Settings, payload: StatePayload) -> str:
    body = _b64(
        json.dumps(
            {"v": STATE_VERSION, "a": payload.account_id, "n": payload.nonce, "e": payload.expires_at},
            separators=(",", ":"),
        ).encode()
    )
    mac = hmac.new(_key(settings), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify_state(settings: Settings, state: str | None, now: datetime) -> StatePayload:
    """The payload of a genuine, unexpired state; OAuthRejected otherwise (no side effect)."""
    key = _key(settings)
    if not state:
        raise OAuthRejected("state: missing")
    body, sep, mac = state.partition(".")
    if not sep or not body or not mac:
        raise OAuthRejected("state: malformed")
    try:
        given = _unb64(mac)
    except (ValueError, TypeError):
        raise OAuthRejected("state: malformed") from None
    expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise OAuthRejected("state: signature does not match (tampered or from another server)")
    try:
        data = json.loads(_unb64(body))
        payload = StatePayload(str(data["a"]), str(data["n"]), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        raise OAuthRejected("state: malformed") from None
    if payload.expires_at <= int(now.timestamp()):
        raise OAuthRejected("state: expired; start the authorisation again")
    return payload


def pkce_verifier(settings: Settings, nonce: str) -> str:
    """RFC 7636 code verifier (43 chars of base64url), derived from the state's nonce and the secret."""
    return _b64(hmac.new(_key(settings), f"pkce|{nonce}".encode(), hashlib.sha256).digest())


def pkce_challenge(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


def redirect_uri(settings: Settings) -> str:
    return settings.oauth_redirect_uri or function_url(settings, "oauth_callback")


@dataclass(frozen=True)
class Authorization:
    account_id: str
    url: str
    expires_at: datetime


def start(settings: Settings, account: Any, now: datetime, *, nonce: str | None = None) -> Authorization:
    """The Google authorization URL for `account` (a pool member): the operator signs in as the channel."""
    if account.status == "disabled":
        raise OAuthRejected(f"account {account.account_id} is disabled; enable it first", "account_id", 409)
    expires = now + timedelta(seconds=settings.oauth_state_ttl_s)
    payload = StatePayload(account.account_id, nonce or secrets.token_urlsafe(18), int(expires.timestamp()))
    state = sign_state(settings, payload)
    query = {
        "client_id": oauth_client_id(settings, account.pool),
        "redirect_uri": redirect_uri(settings),
        "response_type": "code",
        "scope": " ".join(settings.youtube_oauth_scopes),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
        "code_challenge": pkce_challenge(pkce_verifier(settings, payload.nonce)),
        "code_challenge_method": "S256",
    }
    return Authorization(account.account_id, f"{settings.youtube_auth_uri}?{urlencode(query)}", expires)


@dataclass(frozen=True)
class Onboarded:
    account_id: str
    channel_id: str
    pool: str


class NonceStore:
    """Used state nonces (`oauth_states/{nonce}`), created once; Firestore deletes them after expiry."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self._col = client.collection(f"{settings.collection_prefix}oauth_states")

    def consume(self, payload: StatePayload, now: datetime) -> bool:
        from google.api_core import exceptions as gexc

        try:
            self._col.document(payload.nonce).create(
                {
                    "account_id": payload.account_id,
                    "used_at": now,
                    "expires_at": datetime.fromtimestamp(payload.expires_at, UTC) + timedelta(days=1),
                }
            )
            return True
        except gexc.AlreadyExists:
            return False


def exchange_code(
    settings: Settings, *, client_id: str, code: str, verifier: str, now: datetime
) -> TokenRecord:
    """POST the authorization code (with the PKCE verifier) to the token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri(settings),
        "client_id": client_id,
        "client_secret": client_secret(settings, client_id),
    }
    try:
        resp = requests.post(settings.youtube_token_uri, data=form, timeout=settings.youtube_http_timeout_s)
    except requests.RequestException as e:
        raise ProviderError(
            f"token endpoint unreachable ({type(e).__name__})",
            transient=True,
            provider="youtube",
            reason="token_endpoint_unavailable",
        ) from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        error = body.get("error") or f"http{resp.status_code}"
        if resp.status_code >= 500:
            raise ProviderError(
                f"token endpoint failed: {error}", transient=True, provider="youtube", reason=error
            )
        raise OAuthRejected(f"code: the authorization code was refused ({error})", "code")
    if not body.get("refresh_token"):
        raise OAuthRejected("code: no refresh token returned (offline access not granted)", "code")
    granted = (body.get("scope") or "").split()
    missing = [s for s in settings.youtube_oauth_scopes if granted and s not in granted]
    if missing:
        raise OAuthRejected(f"scope: consent did not grant {', '.join(missing)}", "scope")
    return TokenRecord(
        refresh_token=body["refresh_token"],
        access_token=body.get("access_token", ""),
        expiry=now + timedelta(seconds=int(body.get("expires_in", 0))) if body.get("access_token") else None,
        client_id=client_id,
        token_uri=settings.youtube_token_uri,
        scopes=granted or list(settings.youtube_oauth_scopes),
    )


def complete(
    settings: Settings,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    accounts: Any,
    nonces: NonceStore,
    tokens: Any,
    youtube: Any,
    ledger: Any,
    now: Callable[[], datetime],
) -> Onboarded:
    """The callback: verify, consume the state, exchange the code, store the token, bind the channel."""
    payload = verify_state(settings, state, now())
    account = accounts.get(payload.account_id)
    if account is None:
        raise OAuthRejected(f"state: account {payload.account_id} no longer exists")
    if error:
        raise OAuthRejected(f"error: the authorisation was not granted ({error[:100]})", "error")
    if not code:
        raise OAuthRejected("code: missing", "code")
    if not nonces.consume(payload, now()):
        raise OAuthRejected("state: already used; start the authorisation again")
    client_id = oauth_client_id(settings, account.pool)
    record = exchange_code(
        settings, client_id=client_id, code=code, verifier=pkce_verifier(settings, payload.nonce), now=now()
    )
    tokens.save(account.account_id, record)
    with ledger.metered(account.pool, "channels.list"):
        channel_id = youtube.channel_id(account.account_id)
    accounts.bind_channel(account.account_id, channel_id)
    return Onboarded(account.account_id, channel_id, account.pool)

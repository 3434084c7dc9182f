"""Onboarding's security checks without a network: the signed state, PKCE, the authorization URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from shared.config import Settings
from shared.youtube import oauth
from shared.youtube.accounts import Account

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    oauth_state_secret=SecretStr("unit-test-state-signing-key"),
    youtube_client_id="default-client",
    youtube_oauth_clients={"p2": "client-of-p2"},
    functions_base_url="https://fn.example",
)


def test_pkce_matches_rfc_7636_appendix_b() -> None:
    assert oauth.pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifier = oauth.pkce_verifier(SETTINGS, "nonce-1")
    assert 43 <= len(verifier) <= 128 and verifier == oauth.pkce_verifier(SETTINGS, "nonce-1")
    assert verifier != oauth.pkce_verifier(SETTINGS, "nonce-2")


def test_the_authorization_url_asks_for_offline_access_with_pkce_and_a_signed_state() -> None:
    auth = oauth.start(SETTINGS, Account(account_id="acct-7", pool="p2"), NOW, nonce="n-7")
    url = urlsplit(auth.url)
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://accounts.google.com/o/oauth2/auth"
    assert q["client_id"] == "client-of-p2"  # the pool's OAuth client (its Google Cloud project)
    assert q["redirect_uri"] == "https://fn.example/oauth_callback"
    assert (q["response_type"], q["access_type"], q["prompt"]) == ("code", "offline", "consent")
    scopes = q["scope"].split()
    assert "https://www.googleapis.com/auth/youtube.upload" in scopes
    assert "https://www.googleapis.com/auth/youtube.force-ssl" in scopes
    assert q["code_challenge_method"] == "S256"
    assert q["code_challenge"] == oauth.pkce_challenge(oauth.pkce_verifier(SETTINGS, "n-7"))
    payload = oauth.verify_state(SETTINGS, q["state"], NOW)
    assert payload == oauth.StatePayload("acct-7", "n-7", int((NOW + timedelta(seconds=600)).timestamp()))
    assert auth.expires_at == NOW + timedelta(seconds=600)


def _state(**changes: object) -> str:
    payload = oauth.StatePayload(
        **{"account_id": "acct-1", "nonce": "n", "expires_at": int(NOW.timestamp()) + 60, **changes}
    )
    return oauth.sign_state(SETTINGS, payload)


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (None, "missing"),
        ("", "missing"),
        ("no-dot", "malformed"),
        ("a.", "malformed"),
        (_state().split(".")[0] + ".!!!", "malformed"),
        (_state(account_id="acct-2").split(".")[0] + "." + _state().split(".")[1], "signature"),
        (_state().split(".")[0] + "." + _state(nonce="other").split(".")[1], "signature"),
        (_state(expires_at=int(NOW.timestamp())), "expired"),
    ],
)
def test_a_bad_state_is_rejected_with_the_reason(state, problem) -> None:
    with pytest.raises(oauth.OAuthRejected) as rejected:
        oauth.verify_state(SETTINGS, state, NOW)
    assert problem in str(rejected.value) and rejected.value.status == 400 and rejected.value.field == "state"


def test_a_state_from_a_server_with_another_key_is_rejected() -> None:
    other = Settings(oauth_state_secret=SecretStr("another-server-signing-key"))
    forged = oauth.sign_state(other, oauth.StatePayload("acct-1", "n", int(NOW.timestamp()) + 60))
    with pytest.raises(oauth.OAuthRejected, match="signature"):
        oauth.verify_state(SETTINGS, forged, NOW)
    assert oauth.verify_state(SETTINGS, _state(), NOW).account_id == "acct-1"


def test_no_signing_without_a_proper_key() -> None:
    weak = Settings(oauth_state_secret=SecretStr("short"))
    with pytest.raises(oauth.OAuthRejected) as refused:
        oauth.start(weak, Account(account_id="acct-1"), NOW)
    assert refused.value.status == 503
    with pytest.raises(oauth.OAuthRejected):
        oauth.verify_state(weak, "x.y", NOW)

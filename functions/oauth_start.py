"""Onboarding, step 1: POST {account_id} → the Google authorization URL (signed state, PKCE S256)."""

from shared.youtube.doors import oauth_start as handle  # noqa: F401

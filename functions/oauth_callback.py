"""Onboarding, step 2 (public: Google redirects the browser here): ?code&state → token, channel."""

from shared.youtube.doors import oauth_callback as handle  # noqa: F401

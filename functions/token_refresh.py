"""Scheduled: refresh every YouTube token expiring within 5 minutes; revoked ones → needs_reauth."""

from shared.youtube.doors import token_refresh as handle  # noqa: F401

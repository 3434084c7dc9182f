"""Scheduled: channel statistics from YouTube Analytics v2 into Firestore (charged to analytics quota)."""

from shared.youtube.doors import analytics_sync as handle  # noqa: F401

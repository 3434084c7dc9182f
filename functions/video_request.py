"""POST a video request.

Body: `{customer_id, topic, style?, duration_s?, quality?, channel_id?, idempotency_key?}`.
"""

from shared.doors import video_request as handle  # noqa: F401

"""Provider rate limits that hold across function instances: requests per window as slot documents in
Firestore (claimed create-if-absent, so no transaction contends on one counter), and a "limited until"
mark set when a provider answers 429 with a long Retry-After. A limited provider is skipped, not hammered.

Windows are fixed and aligned to the epoch (e.g. each clock hour for Pexels' 200 requests/hour).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.content.chain import Skipped
from shared.ports import RateSlots


class RateLimiter:
    def __init__(
        self,
        slots: RateSlots,
        limits: dict[str, tuple[int, int]],
        clock: Callable[[], datetime] | None = None,
    ):
        self._slots = slots
        self._limits = limits
        self._clock = clock or (lambda: datetime.now(UTC))

    def acquire(self, provider: str) -> None:
        """Take one request of `provider`'s allowance, or raise Skipped saying why not."""
        now = self._clock()
        until = self._slots.limited_until(provider)
        if until is not None and until > now:
            raise Skipped(f"{provider} asked us to wait until {until.isoformat(timespec='seconds')}")
        if provider not in self._limits:
            return
        limit, window_s = self._limits[provider]
        window = int(now.timestamp() // window_s)
        if not self._slots.claim(f"{provider}-{window_s}-{window}", limit, ttl_s=2 * window_s):
            raise Skipped(f"{provider} rate limit: {limit} requests per {window_s} s already used")

    def limited_for(self, provider: str, seconds: float) -> None:
        """The provider said to come back in `seconds` (429 Retry-After): every instance skips it."""
        self._slots.set_limited_until(provider, self._clock() + timedelta(seconds=seconds))

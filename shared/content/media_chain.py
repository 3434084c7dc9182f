"""The media step's provider chain: Pexels -> Pixabay -> Unsplash (stills) -> the premium provider (only
for high-value jobs), as one StockMediaSearch that `gather_stills` uses like a single provider.

A search falls through to the next provider when one fails, is rate limited or returns fewer than
`min_results` (the seed's StockMediaManager, results combined). Every provider's results are cached 24 h
(Pexels' and Pixabay's terms require it) before its rate limit is consulted, so a cached search takes
no slot. Rate limits are shared by every instance (shared.ops.ratelimits); a provider that answers 429
is marked limited for its Retry-After and skipped meanwhile. Premium assets are paid at download:
their price is reserved against the budgets first, and at most `premium_stock_max_assets_per_video`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from decimal import Decimal

from shared.config import Settings
from shared.content.chain import Fallback, RetryPolicy, Skipped, describe
from shared.ops.budgets import Budgets, OverBudget, to_micros
from shared.ops.ratelimits import RateLimiter
from shared.ports import Fetched, KeyValueCache, MediaItem, ProviderError, StockMediaSearch

PREMIUM_PROVIDERS = frozenset({"shutterstock"})
DEFAULT_LIMITED_S = 60.0  # a 429 without Retry-After


class StockChain:
    name = "stock-chain"

    def __init__(
        self,
        providers: list[StockMediaSearch],
        *,
        cache: KeyValueCache,
        limiter: RateLimiter,
        budgets: Budgets,
        retry: RetryPolicy,
        settings: Settings,
        job_id: str,
        min_results: int,
    ) -> None:
        self._providers = {p.name: p for p in providers}
        self._order = [p.name for p in providers]
        self._cache = cache
        self._limiter = limiter
        self._budgets = budgets
        self._retry = retry
        self._s = settings
        self._job_id = job_id
        self._min_results = min_results
        self.fallbacks: list[Fallback] = []
        self.searched_by: dict[str, int] = {}  # provider -> searches it answered (cache hits included)
        self.cache_hits = 0
        self.premium_fetched = 0
        self.cost_usd = Decimal(0)

    # --- StockMediaSearch ------------------------------------------------------------------------------
    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        results: list[MediaItem] = []
        seen: set[tuple[str, str]] = set()
        for name in self._order:
            try:
                found = self._search_one(name, query, count, kind)
            except (Skipped, ProviderError) as exc:
                prefix = "skipped: " if isinstance(exc, Skipped) else ""
                self._record(name, f"{prefix}{describe(exc)}")
                continue
            self.searched_by[name] = self.searched_by.get(name, 0) + 1
            for item in found:
                if (item.provider, item.item_id) not in seen:
                    seen.add((item.provider, item.item_id))
                    results.append(item)
            if len(results) >= self._min_results:
                break
            self._record(name, f"{len(found)} results for {query!r}, fewer than {self._min_results}")
        return results

    @contextlib.contextmanager
    def fetch(self, item: MediaItem) -> Iterator[Fetched]:
        provider = self._providers[item.provider]
        if item.provider not in PREMIUM_PROVIDERS:
            with provider.fetch(item) as fetched:
                yield fetched
            return
        if self.premium_fetched >= self._s.premium_stock_max_assets_per_video:
            raise Skipped(f"premium stock: {self.premium_fetched} assets is this video's limit")
        price = self._s.premium_stock_price_usd
        try:
            reservation = self._budgets.reserve(self._budgets.charges("stock", self._job_id, price))
        except OverBudget as over:
            raise Skipped(str(over)) from None
        paid = 0
        try:
            with provider.fetch(item) as fetched:
                paid = to_micros(price)  # licensed: paid whether or not the bytes arrive
                self.premium_fetched += 1
                self.cost_usd += price
                yield fetched
        finally:
            self._budgets.settle(reservation, paid)

    # --- internals -------------------------------------------------------------------------------------
    def _allowed(self, name: str) -> bool:
        return name not in PREMIUM_PROVIDERS or self._s.premium_stock_max_assets_per_video > 0

    def _search_one(self, name: str, query: str, count: int, kind: str) -> list[MediaItem]:
        if not self._allowed(name):
            raise Skipped("premium stock is off (premium_stock_max_assets_per_video = 0)")
        if name in PREMIUM_PROVIDERS:
            count = min(count, self._s.premium_stock_max_assets_per_video)
        key = f"search:{name}:{kind}:{count}:{' '.join(query.lower().split())}"
        hit = self._cache.get(key)
        if hit is not None:
            self.cache_hits += 1
            return [MediaItem(**item) for item in hit["items"]]
        self._limiter.acquire(name)
        provider = self._providers[name]
        try:
            items = self._retry.call(lambda: provider.search(query, count=count, kind=kind), provider=name)
        except ProviderError as exc:
            if exc.reason == "rate_limited" or exc.retry_after_s:
                self._limiter.limited_for(name, exc.retry_after_s or DEFAULT_LIMITED_S)
            raise
        self._cache.put(key, {"items": [asdict(i) for i in items]}, self._s.search_cache_ttl_s)
        return items

    def _record(self, provider: str, reason: str) -> None:
        fallback = Fallback(provider, reason)
        if fallback not in self.fallbacks:
            self.fallbacks.append(fallback)

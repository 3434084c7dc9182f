"""Step `media`: stock stills for the script's visual cues from the media chain (Pexels, Pixabay,
Unsplash, premium for high-value jobs), streamed from the provider into Cloud Storage."""

from __future__ import annotations

from collections import Counter

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import PermanentFailure, StepContext, TransientFailure
from shared.content.chain import Skipped, describe
from shared.content.media import gather_stills, search_queries
from shared.content.media_chain import PREMIUM_PROVIDERS, StockChain
from shared.ports import MediaItem, ProviderError
from shared.steps import artefact_path, load_json, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    s = c.settings
    job = ctx.job
    request = job["request"]
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    high_value = request["quality"] in s.media_high_value_qualities
    providers = [p for p in c.stock_providers if high_value or p.name not in PREMIUM_PROVIDERS]
    chain = StockChain(
        providers,
        cache=c.cache,
        limiter=c.rate_limiter,
        budgets=c.budgets,
        retry=c.retry,
        settings=s,
        job_id=job["job_id"],
        min_results=s.media_min_results,
    )
    count = s.media_stills_per_video
    queries = search_queries(request["topic"], script["visual_cues"], count)
    items = gather_stills(
        queries, search=chain, count=count, topic=request["topic"], min_results=s.media_min_results
    )
    uris: list[str] = []
    used: list[MediaItem] = []
    for item in items:
        path = artefact_path(job, f"stills/{len(uris):02d}")

        def store(item: MediaItem = item, path: str = path) -> str:
            with chain.fetch(item) as fetched:
                return c.blobs.put_stream(path, fetched.stream, fetched.content_type)

        try:
            uris.append(c.retry.call(store, provider=item.provider))
            used.append(item)
        except (Skipped, ProviderError) as exc:
            chain.fallbacks.append(_download_fallback(item, exc))
    if not uris:
        reasons = "; ".join(f"{f.provider}: {f.reason}" for f in chain.fallbacks) or "no results"
        transient = any("(transient)" in f.reason or "skipped" in f.reason for f in chain.fallbacks)
        message = f"no stock media for {request['topic']!r}: {reasons}"
        raise TransientFailure(message) if transient else PermanentFailure(message)
    served_by = Counter(i.provider for i in used)
    return StepOutput(
        outputs={
            "still_uris": uris,
            "count": len(uris),
            "queries": queries,
            "sources": [f"{i.provider}:{i.item_id}" for i in used],
            "search_cache_hits": chain.cache_hits,
            "fallbacks": [f.to_dict() for f in chain.fallbacks],
        },
        provider="+".join(name for name, _ in served_by.most_common()),
        cost_usd=chain.cost_usd,
    )


def _download_fallback(item: MediaItem, exc: Exception):
    from shared.content.chain import Fallback

    prefix = "skipped: " if isinstance(exc, Skipped) else ""
    return Fallback(item.provider, f"{prefix}download {item.item_id}: {describe(exc)}")

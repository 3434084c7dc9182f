"""Benchmark of the content chains: TTS requests versus the minimum possible, cache hit rates on a 20-job
mix, and cost per video by provider for a standard and a premium job mix.

    python tests/bench/bench_content_chains.py [--jobs 20] [--topics 10]

The chains run in this process against the sandboxes (OpenAI, Google TTS with espeak-ng, ElevenLabs,
Pexels/Pixabay/Unsplash/Shutterstock shapes) over HTTP, with their shared state (caches, budgets, rate
limits, segment cache) in memory. Costs are the providers' list prices in the settings, computed from
what each call reported (tokens, characters, images, assets). No asserts: figures, not a test.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infra.sandboxes import elevenlabs, openai_api, pixabay, shutterstock, stock, tts, unsplash  # noqa: E402
from infra.sandboxes.base import ServerThread  # noqa: E402
from shared.bootstrap import Container  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.content.media import gather_stills, search_queries  # noqa: E402
from shared.content.media_chain import PREMIUM_PROVIDERS, StockChain  # noqa: E402
from shared.content.script import ScriptRequest  # noqa: E402
from shared.content.script_chain import ScriptServices, write_script_served  # noqa: E402
from shared.content.thumbnail_chain import ThumbnailServices, make_thumbnail  # noqa: E402
from shared.content.voice import split_for_tts, utf8_len  # noqa: E402
from shared.content.voice_chain import SegmentCache, Voice, VoiceServices, narrate, plan_parts  # noqa: E402
from tests.fakes import (  # noqa: E402
    InMemoryBlobStore,
    InMemoryCache,
    InMemoryLedger,
    InMemoryRateSlots,
    InMemoryScriptLibrary,
)

TOPICS = (
    "How volcanoes work",
    "The science of a perfect cup of coffee",
    "Why octopuses are so clever",
    "How bridges carry so much weight",
    "Five habits that make mornings easier",
    "What black holes really are",
    "How to start a vegetable garden",
    "The history of the bicycle",
    "Why the sky is blue",
    "How batteries store energy",
    "The secret life of bees",
    "How airplanes stay in the air",
)


class CountingCache(InMemoryCache):
    """Hits and misses per kind of entry (llm, search, thumbnail)."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: dict[str, Counter] = defaultdict(Counter)

    def get(self, key: str):
        value = super().get(key)
        self.stats[key.split(":", 1)[0]]["hit" if value is not None else "miss"] += 1
        return value


def start_sandboxes() -> dict[str, ServerThread]:
    return {
        "openai": ServerThread(openai_api.create_app()).start(),
        "tts": ServerThread(tts.create_app()).start(),
        "stock": ServerThread(stock.create_app(rate_limit=10_000)).start(),
        "pixabay": ServerThread(pixabay.create_app(rate_limit=10_000)).start(),
        "unsplash": ServerThread(unsplash.create_app(rate_limit=10_000)).start(),
        "shutterstock": ServerThread(shutterstock.create_app(rate_limit=10_000)).start(),
        "elevenlabs": ServerThread(elevenlabs.create_app(character_limit=10**7)).start(),
    }


def settings_for(servers: dict[str, ServerThread]) -> Settings:
    u = {name: s.url for name, s in servers.items()}
    return Settings(
        media_bucket="bench",
        openai_base_url=f"{u['openai']}/v1",
        openai_api_key="sk-bench",
        tts_endpoint=u["tts"],
        pexels_base_url=u["stock"],
        pexels_api_key="k",
        pixabay_base_url=u["pixabay"],
        pixabay_api_key="k",
        unsplash_base_url=u["unsplash"],
        unsplash_access_key="k",
        shutterstock_base_url=u["shutterstock"],
        shutterstock_api_token="k",
        elevenlabs_base_url=u["elevenlabs"],
        elevenlabs_api_key="k",
        tts_sample_rate_hz=16000,
        provider_rate_limits={},
    )


def run_mix(c: Container, cache: CountingCache, jobs: list[tuple[str, str]]) -> dict:
    s = c.settings
    cost_by_provider: dict[str, Decimal] = defaultdict(Decimal)
    calls_by_provider: Counter = Counter()
    tts_chars = tts_requests = tts_minimum = 0
    segment_hits = segment_parts = 0
    segments = SegmentCache(c.blobs, s.media_bucket, s.tts_cache_prefix)
    for n, (topic, quality) in enumerate(jobs):
        job_id = f"job-{n}"
        req = ScriptRequest(topic=topic, duration_s=60, quality=quality)
        script = write_script_served(
            req, ScriptServices(c.chat, cache, c.script_library, c.budgets, c.retry, s, job_id)
        )
        cost_by_provider[script.provider.split(" ")[0]] += script.value.cost_usd
        calls_by_provider[script.provider] += 1
        voice = narrate(
            script.value.narration,
            style="professional",
            premium=quality == "premium",
            svc=VoiceServices(
                lambda: c.speech, lambda: c.premium_speech, segments, c.budgets, c.retry, s, job_id
            ),
        )
        narration = voice.value
        cost_by_provider[voice.provider.split(" ")[0]] += narration.cost_usd
        calls_by_provider[voice.provider] += 1
        tts_chars += narration.chars
        tts_requests += narration.requests
        tts_minimum += math.ceil(utf8_len(script.value.narration) / s.tts_max_request_bytes)
        segment_hits += narration.cached_parts
        segment_parts += narration.cached_parts + narration.requests
        providers = [p for p in c.stock_providers if quality == "premium" or p.name not in PREMIUM_PROVIDERS]
        chain = StockChain(
            providers,
            cache=cache,
            limiter=c.rate_limiter,
            budgets=c.budgets,
            retry=c.retry,
            settings=s,
            job_id=job_id,
            min_results=s.media_min_results,
        )
        queries = search_queries(topic, script.value.visual_cues, s.media_stills_per_video)
        items = gather_stills(queries, search=chain, count=s.media_stills_per_video, topic=topic)
        for item in items:
            with chain.fetch(item) as fetched:
                c.blobs.put_stream(f"jobs/{job_id}/{item.item_id}", fetched.stream, fetched.content_type)
        cost_by_provider["stock"] += chain.cost_usd
        thumb = make_thumbnail(
            script.value.title,
            ThumbnailServices(lambda: c.images, cache, c.blobs, c.budgets, c.retry, s, job_id),
        )
        cost_by_provider[thumb.provider.split(" ")[0]] += thumb.value.cost_usd
        calls_by_provider[thumb.provider] += 1
    return {
        "cost": dict(cost_by_provider),
        "served": dict(calls_by_provider),
        "tts": (tts_chars, tts_requests, tts_minimum, segment_hits, segment_parts),
    }


def tts_requests_versus_minimum(settings: Settings) -> None:
    """Long texts (multi-byte too): requests the splitter makes per 10,000 characters, and the minimum
    (ceil(bytes / 5,000)); a common phrase at the end is served from the cache when that is free."""
    rng = random.Random(7)
    words = (
        *("tide", "reef", "current", "shell", "brûlée", "façade", "naïve"),
        *("coral", "light", "deep", "night", "water", "blue"),
    )
    voice = Voice("google_tts", "v", settings.tts_max_request_bytes, utf8_len, Decimal("0.016"), True)
    print("\nTTS requests per 10,000 characters (Google, 5,000-byte requests)")
    for minutes in (1, 3, 5, 10, 20):
        sentences = []
        for _ in range(minutes * 150 // 10):
            sentences.append(" ".join(rng.choice(words) for _ in range(10)).capitalize() + ".")
        text = " ".join(sentences) + " Thanks for watching."
        parts = plan_parts(
            text, voice, lambda x: "Thanks for watching" if x == "Thanks for watching." else None
        )
        requests = sum(1 for p in parts if p.key_text == p.text)
        uncached = text.removesuffix(" Thanks for watching.")
        minimum = math.ceil(utf8_len(uncached) / settings.tts_max_request_bytes)
        plain = len(split_for_tts(text, settings.tts_max_request_bytes))
        print(
            f"  {minutes:2d} min, {len(text):6,} chars, {utf8_len(text):6,} bytes: {requests} requests "
            f"({requests * 10_000 / len(text):.2f} per 10k chars), minimum {minimum}, "
            f"without the phrase cache {plain}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--topics", type=int, default=10, help="distinct topics among the jobs")
    parser.add_argument("--verbose", action="store_true", help="also print the system's own logs")
    args = parser.parse_args(argv)
    # The system logs JSON lines on stdout; here they would bury the figures (and break --json).
    logging.getLogger("ytempire").setLevel(logging.INFO if args.verbose else logging.WARNING)
    servers = start_sandboxes()
    try:
        settings = settings_for(servers)
        tts_requests_versus_minimum(settings)
        rng = random.Random(2026)
        topics = [TOPICS[i % len(TOPICS)] for i in range(args.topics)]
        mix = [topics[i % len(topics)] for i in range(args.jobs)]
        rng.shuffle(mix)
        for label, quality in (("standard", "standard"), ("premium", "premium")):
            cache = CountingCache()
            c = Container(
                settings,
                cache=cache,
                budget_ledger=InMemoryLedger(),
                rate_slots=InMemoryRateSlots(),
                script_library=InMemoryScriptLibrary(),
                blobs=InMemoryBlobStore("bench"),
            )
            report = run_mix(c, cache, [(t, quality) for t in mix])
            _print_report(label, args.jobs, len(set(mix)), cache, report)
    finally:
        for server in servers.values():
            server.stop()
    return 0


def _print_report(label: str, jobs: int, distinct: int, cache: CountingCache, report: dict) -> None:
    print(f"\n{label} mix: {jobs} jobs of 60 s over {distinct} topics")
    for kind, counts in sorted(cache.stats.items()):
        total = counts["hit"] + counts["miss"]
        print(f"  cache {kind:10} {counts['hit']:3d}/{total:3d} hits ({counts['hit'] / max(1, total):.0%})")
    chars, requests, minimum, hits, parts = report["tts"]
    print(
        f"  TTS segments  {hits:3d}/{parts:3d} from the segment cache; "
        f"{requests} requests, {chars:,} chars billed"
    )
    print(
        f"  TTS requests  {requests} made where the narrations alone would need at least {minimum} uncached"
    )
    total = sum(report["cost"].values())
    print(f"  cost per video ${total / jobs:.4f} (seed ceiling $3.00; target at defaults <= $0.50)")
    for provider, cost in sorted(report["cost"].items(), key=lambda kv: -kv[1]):
        print(f"    {provider:28} ${cost / jobs:.4f} per video")
    print("  served by: " + ", ".join(f"{p} x{n}" for p, n in sorted(report["served"].items())))


if __name__ == "__main__":
    sys.exit(main())

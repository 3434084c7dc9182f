"""The provider chains against the sandboxes over HTTP (official clients where they exist) with their state
in the Firestore and Cloud Storage emulators: each link reached by failing the ones above it, cache hits
that never reach the provider (counted at the sandbox), budgets under 10 concurrent jobs, and a rate
limit held across two processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from infra.sandboxes import elevenlabs, openai_api, pixabay, shutterstock, stock, tts, unsplash
from infra.sandboxes.base import ServerThread
from shared.bootstrap import Container
from shared.config import Settings
from shared.content.media import gather_stills
from shared.content.media_chain import StockChain
from shared.content.script import ScriptRequest
from shared.content.script_chain import ScriptServices, write_script_served
from shared.content.thumbnail_chain import ThumbnailServices, make_thumbnail
from shared.content.voice_chain import SegmentCache, VoiceServices, narrate
from shared.ops.budgets import from_micros

pytestmark = pytest.mark.integration

ELEVENLABS_CHAR_LIMIT = 400


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerThread]]:
    started = {
        "openai": ServerThread(openai_api.create_app()).start(),
        "tts": ServerThread(tts.create_app()).start(),
        "stock": ServerThread(stock.create_app()).start(),
        "pixabay": ServerThread(pixabay.create_app()).start(),
        "unsplash": ServerThread(unsplash.create_app()).start(),
        "shutterstock": ServerThread(shutterstock.create_app()).start(),
        "elevenlabs": ServerThread(elevenlabs.create_app(character_limit=ELEVENLABS_CHAR_LIMIT)).start(),
    }
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(autouse=True)
def _clean(servers) -> None:
    for server in servers.values():
        requests.post(f"{server.url}/_control/reset", timeout=5).raise_for_status()


@pytest.fixture()
def container(servers, firestore_emulator, storage_emulator) -> Container:
    """A container on the emulators, its Firestore collections private to this test (a fresh prefix)."""
    return Container(live_settings(servers, firestore_emulator, storage_emulator))


def live_settings(servers, firestore_emulator, storage_emulator, **overrides) -> Settings:
    urls = {name: s.url for name, s in servers.items()}
    values = {
        "firestore_emulator_host": firestore_emulator.host_port,
        "storage_emulator_host": storage_emulator.host_port,
        "media_bucket": "chains-test",
        "collection_prefix": f"t{uuid.uuid4().hex[:10]}_",
        "openai_base_url": f"{urls['openai']}/v1",
        "openai_api_key": "sk-test",
        "openai_timeout_s": 2,
        "tts_endpoint": urls["tts"],
        "tts_timeout_s": 30,
        "pexels_base_url": urls["stock"],
        "pexels_api_key": "pexels-test",
        "pixabay_base_url": urls["pixabay"],
        "pixabay_api_key": "pixabay-test",
        "unsplash_base_url": urls["unsplash"],
        "unsplash_access_key": "unsplash-test",
        "shutterstock_base_url": urls["shutterstock"],
        "shutterstock_api_token": "shutterstock-test",
        "elevenlabs_base_url": urls["elevenlabs"],
        "elevenlabs_api_key": "eleven-test",
        "stock_timeout_s": 5,
        "provider_retry_attempts": 2,
        "provider_retry_initial_s": 0.01,
        "provider_retry_max_s": 0.05,
        "provider_retry_after_max_s": 1.5,
        "tts_sample_rate_hz": 16000,
    }
    return Settings(**(values | overrides))


def fault(server: ServerThread, **spec) -> None:
    requests.post(f"{server.url}/_control/faults", json=spec, timeout=5).raise_for_status()


def calls(server: ServerThread, path: str) -> list[dict]:
    every = requests.get(f"{server.url}/_control/calls", timeout=5).json()["calls"]
    return [c for c in every if c["path"].startswith(path)]


def script_svc(c: Container, job_id: str = "job-1") -> ScriptServices:
    return ScriptServices(
        chat=c.lazy("chat"),
        cache=c.cache,
        library=c.script_library,
        budgets=c.budgets,
        retry=c.retry,
        settings=c.settings,
        job_id=job_id,
    )


def voice_svc(c: Container) -> VoiceServices:
    s = c.settings
    return VoiceServices(
        google=lambda: c.speech,
        elevenlabs=lambda: c.premium_speech,
        segments=SegmentCache(c.blobs, s.media_bucket, f"cache/{s.collection_prefix}tts/"),
        budgets=c.budgets,
        retry=c.retry,
        settings=s,
        job_id="job-1",
    )


def stock_chain(c: Container, providers=None) -> StockChain:
    return StockChain(
        providers if providers is not None else c.stock_providers,
        cache=c.cache,
        limiter=c.rate_limiter,
        budgets=c.budgets,
        retry=c.retry,
        settings=c.settings,
        job_id="job-1",
        min_results=5,
    )


# --- script ----------------------------------------------------------------------------------------------
def test_script_links_in_turn_premium_economy_similar_template(container, servers) -> None:
    openai = servers["openai"]
    c = container
    # premium fails (500 every time) -> economy
    fault(openai, match="POST /v1/chat/completions", status=500, times=2)
    served = write_script_served(ScriptRequest(topic="how tides work", quality="premium"), script_svc(c))
    assert served.provider == "openai:gpt-3.5-turbo"
    assert served.fallbacks[0].provider == "openai:gpt-4" and "(transient)" in served.fallbacks[0].reason
    assert [x["status"] for x in calls(openai, "/v1/chat")] == [500, 500, 200]  # 2 attempts, then economy

    # every model answers 429 -> a similar script from the library (the one just written)
    fault(openai, match="POST /v1/chat/completions", status=429, retry_after_s=1, times=-1)
    similar = write_script_served(
        ScriptRequest(topic="why tides work", duration_s=61), script_svc(c, "job-2")
    )
    assert similar.provider.startswith("cache:similar (how tides work")
    assert similar.value.title == "Why tides work"

    # a timeout is a failure like any other; no similar script -> the template
    requests.post(f"{openai.url}/_control/reset", timeout=5)
    fault(openai, match="POST /v1/chat/completions", delay_s=2.5, status=200, times=-1)
    template = write_script_served(ScriptRequest(topic="knitting a scarf"), script_svc(c, "job-3"))
    time.sleep(0.6)  # the sandbox's late answers land in this test's call log, not the next one's
    assert template.provider == "template"
    assert "timeout (transient)" in template.fallbacks[0].reason
    assert template.value.word_count >= c.settings.quality_min_script_words


def test_an_empty_completion_falls_through(container, servers) -> None:
    fault(servers["openai"], match="POST /v1/chat/completions", empty=True, times=-1)
    served = write_script_served(ScriptRequest(topic="paper planes"), script_svc(container))
    assert served.provider == "template" and "empty_completion" in served.fallbacks[0].reason


# --- caches (counted at the sandboxes) -------------------------------------------------------------------
def test_cache_hits_never_reach_the_providers(container, servers) -> None:
    c = container
    req = ScriptRequest(topic="the water cycle", duration_s=30)
    first = write_script_served(req, script_svc(c))
    second = write_script_served(req, script_svc(c, "job-2"))
    assert second.provider == "openai:gpt-3.5-turbo (cache)"
    assert len(calls(servers["openai"], "/v1/chat")) == 1

    narration = first.value.narration
    one = narrate(narration, style="educational", premium=False, svc=voice_svc(c))
    tts_calls = len(calls(servers["tts"], "/v1/text:synthesize"))
    two = narrate(narration, style="educational", premium=False, svc=voice_svc(c))
    assert one.value.requests >= 1 and two.value.requests == 0
    assert len(calls(servers["tts"], "/v1/text:synthesize")) == tts_calls
    assert two.value.wav == one.value.wav

    for _ in range(2):
        stock_chain(c).search("rain clouds", count=6)
    assert len(calls(servers["stock"], "/v1/search")) == 1

    svc = ThumbnailServices(
        images=lambda: c.images,
        cache=c.cache,
        blobs=c.blobs,
        budgets=c.budgets,
        retry=c.retry,
        settings=c.settings,
        job_id="job-1",
    )
    title = f"The water cycle {uuid.uuid4().hex[:6]}"
    assert make_thumbnail(title, svc).provider == "openai:dall-e-3"
    assert make_thumbnail(title, svc).provider == "openai:dall-e-3 (cache)"
    assert len(calls(servers["openai"], "/v1/images")) == 1


# --- voice -----------------------------------------------------------------------------------------------
def test_voice_links_neural2_standard_and_elevenlabs_until_its_characters_run_out(
    servers, firestore_emulator, storage_emulator
) -> None:
    c = Container(
        live_settings(servers, firestore_emulator, storage_emulator, elevenlabs_monthly_char_limit=300)
    )
    fault(servers["tts"], match="POST /v1/text:synthesize", status=503, times=2)  # Neural2-J's 2 attempts
    text = "Waves roll in twice a day. The moon pulls the sea."
    served = narrate(text, style="educational", premium=False, svc=voice_svc(c))
    # phrase pre-caching met the two 503s first, so Neural2-J failed and Standard-J spoke
    assert served.provider == "google-tts:en-US-Standard-J"
    assert "(transient)" in served.fallbacks[0].reason and served.value.duration_s > 1

    premium = narrate(text, style="calm", premium=True, svc=voice_svc(c))
    assert premium.provider == "elevenlabs:ErXwobaYiN019PkySvjV"
    assert calls(servers["elevenlabs"], "/v1/text-to-speech/ErXwobaYiN019PkySvjV")[0]["status"] == 200
    long_text = " ".join([text] * 8)  # over what is left of the month's characters (our ledger's count)
    over = narrate(long_text, style="calm", premium=True, svc=voice_svc(c))
    assert over.provider == "google-tts:en-US-Neural2-J"
    assert "ElevenLabs characters per month" in over.fallbacks[0].reason


def test_elevenlabs_quota_answer_falls_through(container, servers) -> None:
    c = container
    fault(
        servers["elevenlabs"], match="POST /v1/text-to-speech", status=401, reason="quota_exceeded", times=-1
    )
    served = narrate("Hello there.", style="casual", premium=True, svc=voice_svc(c))
    assert served.provider.startswith("google-tts:en-US-Neural2-J")
    assert "quota_exceeded (permanent)" in served.fallbacks[0].reason


def test_empty_audio_falls_through_to_the_next_voice(container, servers) -> None:
    c = container
    fault(servers["tts"], match="POST /v1/text:synthesize", empty=True, times=2)
    served = narrate("A short line to say.", style="x", premium=False, svc=voice_svc(c))
    assert served.provider == "google-tts:en-US-Standard-J"
    assert "empty_audio" in served.fallbacks[0].reason


# --- media -----------------------------------------------------------------------------------------------
def test_media_links_pexels_pixabay_unsplash_and_premium_only_for_high_value(container, servers) -> None:
    c = container
    # Pexels 429 with a long Retry-After: marked limited (every instance skips it), not retried
    fault(servers["stock"], match="GET /v1/search", status=429, retry_after_s=30, times=1)
    chain = stock_chain(c)
    items = gather_stills(["volcano lava"], search=chain, count=5, topic="volcanoes")
    assert {i.provider for i in items} == {"pixabay"}
    assert chain.fallbacks[0].provider == "pexels" and "rate_limited" in chain.fallbacks[0].reason
    again = stock_chain(c)
    again.search("ocean", count=5)
    assert "pexels asked us to wait until" in again.fallbacks[0].reason
    assert len(calls(servers["stock"], "/v1/search")) == 1  # skipped, not hammered

    # Pixabay empty -> Unsplash (stills), its download reported
    requests.post(f"{servers['pixabay'].url}/_control/empty", json={"on": True}, timeout=5)
    unsplash_chain = stock_chain(c)
    found = unsplash_chain.search("mountain lake", count=5)
    assert {i.provider for i in found} == {"unsplash"}
    with unsplash_chain.fetch(found[0]) as fetched:
        assert fetched.content_type == "image/jpeg" and fetched.stream.read(3) == b"\xff\xd8\xff"
    downloads = requests.get(f"{servers['unsplash'].url}/_control/downloads", timeout=5).json()["downloads"]
    assert downloads == {found[0].item_id: 1}

    # Unsplash empty too: a standard job gets nothing more, a high-value one the premium provider
    requests.post(f"{servers['unsplash'].url}/_control/empty", json={"on": True}, timeout=5)
    standard = [p for p in c.stock_providers if p.name != "shutterstock"]
    assert stock_chain(c, standard).search("desert dunes", count=5) == []
    premium_chain = stock_chain(c)
    paid = premium_chain.search("desert dunes", count=5)
    assert {i.provider for i in paid} == {"shutterstock"} and len(paid) == 2
    with premium_chain.fetch(paid[0]) as fetched:
        data = fetched.stream.read()
    assert data[:3] == b"\xff\xd8\xff" and premium_chain.cost_usd == Decimal("0.50")
    licenses = requests.get(f"{servers['shutterstock'].url}/_control/licenses", timeout=5).json()["licenses"]
    assert [x["image_id"] for x in licenses] == [paid[0].item_id]


def test_downloads_stream_into_cloud_storage(container, servers) -> None:
    c = container
    chain = stock_chain(c)
    item = chain.search("forest", count=5)[0]
    with chain.fetch(item) as fetched:
        uri = c.blobs.put_stream("chains/still.jpg", fetched.stream, fetched.content_type)
    assert c.blobs.get_bytes(uri)[:3] == b"\xff\xd8\xff"


# --- thumbnail -------------------------------------------------------------------------------------------
def test_thumbnail_falls_back_to_the_template_when_images_fail(container, servers) -> None:
    c = container
    fault(servers["openai"], match="POST /v1/images/generations", status=500, times=-1)
    svc = ThumbnailServices(
        images=lambda: c.images,
        cache=c.cache,
        blobs=c.blobs,
        budgets=c.budgets,
        retry=c.retry,
        settings=c.settings,
        job_id="job-1",
    )
    served = make_thumbnail("Tides", svc)
    assert served.provider == "pillow-template" and "(transient)" in served.fallbacks[0].reason


# --- budgets under concurrency ---------------------------------------------------------------------------
def test_budgets_hold_under_10_concurrent_jobs(servers, firestore_emulator, storage_emulator) -> None:
    """Ten premium jobs at once against an OpenAI day budget that fits only some gpt-4 calls: the
    others fall back to the economy model with the reason recorded, and no limit is ever passed."""
    s = live_settings(
        servers, firestore_emulator, storage_emulator, budget_openai_per_day_usd=Decimal("0.12")
    )
    c = Container(s)
    results: dict[int, object] = {}

    def job(n: int) -> None:
        results[n] = write_script_served(
            ScriptRequest(topic=f"topic number {n} about rivers", quality="premium"),
            script_svc(c, f"job-{n}"),
        )

    threads = [threading.Thread(target=job, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # gpt-4 reserves ~$0.10 (prompt + max_tokens) and settles ~$0.02: at most two fit in $0.12
    premium = [r for r in results.values() if r.provider == "openai:gpt-4"]
    others = [r for r in results.values() if r.provider != "openai:gpt-4"]
    assert 1 <= len(premium) <= 2 and len(others) == 10 - len(premium)
    assert all(r.fallbacks[0].reason.startswith("skipped: OpenAI per day budget") for r in others)
    docs = c.budgets.usage(_budget_docs(c))
    for doc in docs.values():
        assert doc["reserved"] == 0 and doc["spent"] <= doc["limit"]
    day = next(v for k, v in docs.items() if k.startswith("openai-day"))
    spent = sum(r.value.cost_usd for r in results.values())
    assert from_micros(day["spent"]) == spent <= Decimal("0.12")


def _budget_docs(c: Container) -> list[str]:
    return [d.id for d in c.firestore.collection(f"{c.settings.collection_prefix}budgets").list_documents()]


# --- rate limits across processes ------------------------------------------------------------------------
LIMIT_WORKER = textwrap.dedent(
    """
    import json, sys
    from shared.bootstrap import Container
    from shared.config import Settings
    from shared.content.chain import Skipped
    settings = Settings(**json.loads(sys.argv[1]))
    c = Container(settings)
    pixabay = next(p for p in c.stock_providers if p.name == "pixabay")
    served = skipped = 0
    for n in range(int(sys.argv[2])):
        try:
            c.rate_limiter.acquire("pixabay")
        except Skipped:
            skipped += 1
            continue
        pixabay.search(f"query {sys.argv[3]} {n}", count=3)
        served += 1
    print(json.dumps({"served": served, "skipped": skipped}))
    """
)


def test_a_rate_limit_holds_across_two_processes(servers, firestore_emulator, storage_emulator) -> None:
    s = live_settings(
        servers, firestore_emulator, storage_emulator, provider_rate_limits={"pixabay": (12, 10**8)}
    )
    config = {
        k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v)
        for k, v in s.model_dump().items()
        if k in {"firestore_emulator_host", "collection_prefix", "pixabay_base_url", "pixabay_api_key"}
    }
    config["provider_rate_limits"] = {"pixabay": [12, 10**8]}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", LIMIT_WORKER, json.dumps(config), "20", str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [json.loads(w.communicate(timeout=120)[0].strip().splitlines()[-1]) for w in workers]
    assert sum(o["served"] for o in outputs) == 12
    assert sum(o["skipped"] for o in outputs) == 28
    searches = calls(servers["pixabay"], "/api/")
    assert len(searches) == 12 and all(x["status"] == 200 for x in searches)

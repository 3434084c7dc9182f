"""Provider chains with hand-written fakes at the port boundary: which link serves, why the ones before it
did not, retries, budgets (reserve/settle, never over a limit), caches and rate limits."""

from __future__ import annotations

import io
import threading
import wave
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image

from shared.config import Settings
from shared.content.chain import ChainExhausted, Link, Provided, RetryPolicy, Skipped, run_chain
from shared.content.media_chain import StockChain
from shared.content.script import ScriptRequest
from shared.content.script_chain import ScriptServices, improve_script_served, write_script_served
from shared.content.thumbnail_chain import ThumbnailServices, make_thumbnail
from shared.content.voice import utf8_len
from shared.content.voice_chain import SegmentCache, Voice, VoiceServices, narrate, plan_parts
from shared.ops.budgets import Budgets, OverBudget, from_micros
from shared.ops.ratelimits import RateLimiter
from shared.ports import ChatResult, Fetched, GeneratedImage, MediaItem, ProviderError
from tests.fakes import (
    InMemoryBlobStore,
    InMemoryCache,
    InMemoryLedger,
    InMemoryRateSlots,
    InMemoryScriptLibrary,
)

SCRIPT_TEXT = """TITLE: Volcanoes Explained
HOOK:
[VISUAL: lava flow]
What happens deep under a volcano before it erupts? [PAUSE]
INTRO:
Today we follow the magma from the mantle to the sky, one step at a time.
POINT 1: Magma
Rock melts far below the crust and rises because it is lighter than the rock around it.
POINT 2: Pressure
Gas in the magma builds pressure until the rock above can no longer hold it back.
CALL TO ACTION:
Don't forget to like and subscribe.
CONCLUSION:
So that is how volcanoes work. Thanks for watching."""


def settings(**overrides) -> Settings:
    values = {"provider_retry_initial_s": 0.0, "provider_retry_max_s": 0.0, "media_bucket": "test-bucket"}
    return Settings(**(values | overrides))


def no_sleep_policy(s: Settings, **kw) -> RetryPolicy:
    return RetryPolicy.from_settings(s, sleep=lambda _s: None, **kw)


class FakeChat:
    """Per model, a queue of outcomes: an exception to raise or text to answer with."""

    def __init__(self, outcomes: dict[str, list] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.calls: list[str] = []

    def complete(self, *, model, system, user, temperature, max_tokens) -> ChatResult:
        self.calls.append(model)
        queue = self.outcomes.get(model, [])
        outcome = queue.pop(0) if queue else SCRIPT_TEXT
        if isinstance(outcome, Exception):
            raise outcome
        return ChatResult(text=outcome, model=model, prompt_tokens=400, completion_tokens=300)


def transient(reason="server_error", retry_after_s=None) -> ProviderError:
    return ProviderError("boom", transient=True, provider="fake", reason=reason, retry_after_s=retry_after_s)


def permanent(reason="invalid_api_key") -> ProviderError:
    return ProviderError("no", transient=False, provider="fake", reason=reason)


def script_services(
    chat, s: Settings, *, budgets: Budgets | None = None, job_id="job-1", **kw
) -> ScriptServices:
    return ScriptServices(
        chat=chat,
        cache=kw.get("cache") or InMemoryCache(),
        library=kw.get("library") or InMemoryScriptLibrary(),
        budgets=budgets or Budgets(InMemoryLedger(), s),
        retry=no_sleep_policy(s),
        settings=s,
        job_id=job_id,
    )


# --- the chain runner and retries ---------------------------------------------------------------------------
def test_chain_records_every_link_passed_over_and_why() -> None:
    def fails():
        raise transient()

    def skips():
        raise Skipped("over budget")

    served = run_chain("x", [Link("a", fails), Link("b", skips), Link("c", lambda: Provided(3, "c (cache)"))])
    assert (served.value, served.provider) == (3, "c (cache)")
    assert [(f.provider, f.reason.split(" ")[0]) for f in served.fallbacks] == [
        ("a", "server_error"),
        ("b", "skipped:"),
    ]


def test_an_exhausted_chain_is_transient_only_if_a_failure_was() -> None:
    with pytest.raises(ChainExhausted) as err:
        run_chain("x", [Link("a", lambda: (_ for _ in ()).throw(permanent()))])
    assert err.value.transient is False and "every x provider failed: a: invalid_api_key" in str(err.value)
    with pytest.raises(ChainExhausted) as err:
        run_chain("x", [Link("a", lambda: (_ for _ in ()).throw(transient()))])
    assert err.value.transient is True


def test_retries_are_bounded_back_off_and_honour_retry_after() -> None:
    slept: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        raise transient("rate_limit_exceeded", retry_after_s=2)

    policy = RetryPolicy(attempts=3, initial_s=0.1, max_s=1, retry_after_max_s=5, sleep=slept.append)
    with pytest.raises(ProviderError):
        policy.call(flaky, provider="p")
    assert len(calls) == 3 and len(slept) == 2 and all(s >= 2 for s in slept)


def test_permanent_failures_and_long_retry_afters_are_not_retried() -> None:
    marked: list[tuple[str, float]] = []
    policy = RetryPolicy(
        attempts=5,
        sleep=lambda _s: None,
        retry_after_max_s=10,
        on_long_wait=lambda p, s: marked.append((p, s)),
    )
    for exc in (permanent(), transient(retry_after_s=600)):
        calls = []

        def once(exc=exc, calls=calls):
            calls.append(1)
            raise exc

        with pytest.raises(ProviderError):
            policy.call(once, provider="pexels")
        assert len(calls) == 1
    assert marked == [("pexels", 600)]


def test_a_transient_failure_that_clears_is_served_on_retry() -> None:
    outcomes = [transient(), transient(), "ok"]

    def call():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert RetryPolicy(attempts=3, sleep=lambda _s: None).call(call, provider="p") == "ok"


# --- budgets ------------------------------------------------------------------------------------------------
def test_reserve_settle_release_in_micro_dollars() -> None:
    s = settings()
    budgets = Budgets(InMemoryLedger(), s, clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    charges = budgets.charges("llm", "job-1", Decimal("0.10"))
    assert [c.doc_id for c in charges] == [
        "llm-video:job-1",
        "openai-day:2026-03-01",
        "all-day:2026-03-01",
        "all-month:2026-03",
        "all-video:job-1",
    ]
    r = budgets.reserve(charges)
    assert budgets.usage(["llm-video:job-1"])["llm-video:job-1"]["reserved"] == 100_000
    budgets.settle(r, 42_000)
    doc = budgets.usage(["openai-day:2026-03-01"])["openai-day:2026-03-01"]
    assert (doc["reserved"], doc["spent"]) == (0, 42_000)
    budgets.release(budgets.reserve(charges))
    assert budgets.usage(["all-month:2026-03"])["all-month:2026-03"]["spent"] == 42_000


def test_a_reservation_over_any_limit_writes_nothing_and_names_the_limit() -> None:
    s = settings(budget_llm_per_video_usd=Decimal("0.40"))
    ledger = InMemoryLedger()
    budgets = Budgets(ledger, s)
    budgets.reserve(budgets.charges("llm", "job-1", Decimal("0.30")))
    before = dict(ledger.docs)
    with pytest.raises(OverBudget, match=r"LLM per video budget: \$0.200000 more would pass \$0.400000"):
        budgets.reserve(budgets.charges("llm", "job-1", Decimal("0.20")))
    assert ledger.docs == before
    budgets.reserve(budgets.charges("llm", "job-2", Decimal("0.20")))  # another video has its own


def test_concurrent_reservations_never_pass_the_daily_limit() -> None:
    s = settings(budget_openai_per_day_usd=Decimal("1.00"))
    budgets = Budgets(InMemoryLedger(), s)
    accepted = []

    def worker(n: int) -> None:
        for i in range(10):
            try:
                r = budgets.reserve(budgets.charges("llm", f"job-{n}-{i}", Decimal("0.03")))
            except OverBudget:
                continue
            budgets.settle(r, 25_000)
            accepted.append(1)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    day = next(d for d in budgets._store.docs if d.startswith("openai-day"))
    doc = budgets._store.docs[day]
    assert doc["reserved"] == 0 and doc["spent"] == 25_000 * len(accepted) <= 1_000_000
    # A reservation is refused only when the money is spent or reserved by the calls in flight.
    assert len(accepted) >= (1_000_000 - 10 * 30_000) // 25_000


def test_elevenlabs_characters_are_a_monthly_budget_of_their_own() -> None:
    budgets = Budgets(InMemoryLedger(), settings(elevenlabs_monthly_char_limit=1000))
    budgets.reserve(budgets.charges("tts", "j", Decimal("0.1"), elevenlabs_chars=900))
    with pytest.raises(OverBudget, match="ElevenLabs characters per month budget: 200 characters more"):
        budgets.reserve(budgets.charges("tts", "j2", Decimal("0.1"), elevenlabs_chars=200))


# --- script chain -------------------------------------------------------------------------------------------
def test_standard_jobs_start_with_the_economy_model() -> None:
    s = settings()
    chat = FakeChat()
    served = write_script_served(ScriptRequest(topic="volcanoes", duration_s=60), script_services(chat, s))
    assert served.provider == "openai:gpt-3.5-turbo" and chat.calls == ["gpt-3.5-turbo"]
    assert served.value.cost_usd == Decimal("0.001400") and served.fallbacks == []


def test_premium_failing_falls_to_economy_with_the_reason_after_bounded_retries() -> None:
    s = settings(provider_retry_attempts=2)
    chat = FakeChat({"gpt-4": [transient(), transient()]})
    served = write_script_served(
        ScriptRequest(topic="volcanoes", quality="premium"), script_services(chat, s)
    )
    assert served.provider == "openai:gpt-3.5-turbo"
    assert chat.calls == ["gpt-4", "gpt-4", "gpt-3.5-turbo"]
    assert served.fallbacks[0].provider == "openai:gpt-4" and "server_error" in served.fallbacks[0].reason


def test_over_the_llm_budget_the_premium_model_is_skipped_and_the_job_says_why() -> None:
    s = settings(budget_llm_per_video_usd=Decimal("0.05"))  # gpt-4's estimate (~$0.1) does not fit
    chat = FakeChat()
    served = write_script_served(
        ScriptRequest(topic="volcanoes", quality="premium"), script_services(chat, s)
    )
    assert chat.calls == ["gpt-3.5-turbo"]
    assert served.fallbacks[0].reason.startswith("skipped: LLM per video budget")


def test_the_response_cache_answers_the_same_prompt_without_a_call() -> None:
    s = settings()
    chat, cache = FakeChat(), InMemoryCache()
    req = ScriptRequest(topic="volcanoes")
    first = write_script_served(req, script_services(chat, s, cache=cache))
    second = write_script_served(req, script_services(chat, s, cache=cache, job_id="job-2"))
    assert chat.calls == ["gpt-3.5-turbo"]
    assert second.provider == "openai:gpt-3.5-turbo (cache)" and second.value.cost_usd == 0
    assert second.value.narration == first.value.narration
    cache.now += s.llm_cache_ttl_s + 1  # an hour later the prompt is asked again
    write_script_served(req, script_services(chat, s, cache=cache, job_id="job-3"))
    assert chat.calls == ["gpt-3.5-turbo"] * 2


def test_with_the_models_down_a_similar_cached_script_then_the_template() -> None:
    s = settings(provider_retry_attempts=1)
    library = InMemoryScriptLibrary()
    write_script_served(
        ScriptRequest(topic="how volcanoes erupt"), script_services(FakeChat(), s, library=library)
    )
    down = FakeChat({"gpt-3.5-turbo": [transient()] * 5})
    similar = write_script_served(
        ScriptRequest(topic="why volcanoes erupt"), script_services(down, s, library=library)
    )
    assert similar.provider.startswith("cache:similar (how volcanoes erupt")
    assert similar.value.title == "Why volcanoes erupt" and "magma" in similar.value.narration
    unrelated = write_script_served(
        ScriptRequest(topic="baking bread"), script_services(down, s, library=library)
    )
    assert unrelated.provider == "template"
    assert [f.provider for f in unrelated.fallbacks] == ["openai:gpt-3.5-turbo", "cache:similar"]
    assert unrelated.value.word_count >= s.quality_min_script_words and unrelated.value.cost_usd == 0


def test_improve_uses_the_economy_model_then_the_template() -> None:
    s = settings(provider_retry_attempts=1)
    req = ScriptRequest(topic="volcanoes")
    previous = write_script_served(req, script_services(FakeChat(), s)).value
    improved = improve_script_served(previous, "too short", req, script_services(FakeChat(), s))
    assert improved.provider == "openai:gpt-3.5-turbo"
    down = FakeChat({"gpt-3.5-turbo": [permanent()]})
    assert improve_script_served(previous, "too short", req, script_services(down, s)).provider == "template"


# --- voice chain --------------------------------------------------------------------------------------------
def wav(seconds: float = 0.2, rate: int = 24000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x00" * int(seconds * rate))
    return out.getvalue()


class FakeSynth:
    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.calls: list[tuple[str, str]] = []

    def synthesize(self, text, *, voice, language_code, sample_rate_hz) -> bytes:
        self.calls.append((voice, text))
        if voice in self.fail:
            raise self.fail[voice]
        return wav(rate=sample_rate_hz)


def voice_services(
    s: Settings, google: FakeSynth, *, eleven: FakeSynth | None = None, blobs=None, budgets=None
):
    return VoiceServices(
        google=lambda: google,
        elevenlabs=(lambda: eleven) if eleven else None,
        segments=SegmentCache(blobs or InMemoryBlobStore(), "test-bucket", s.tts_cache_prefix),
        budgets=budgets or Budgets(InMemoryLedger(), s),
        retry=no_sleep_policy(s),
        settings=s,
        job_id="job-1",
    )


NARRATION = "Rock melts far below. It rises to the top. Thanks for watching!"


def test_voice_uses_neural2_and_pre_caches_the_common_phrases_once() -> None:
    s = settings()
    google = FakeSynth()
    blobs = InMemoryBlobStore()
    served = narrate(
        NARRATION, style="educational", premium=False, svc=voice_services(s, google, blobs=blobs)
    )
    assert served.provider == "google-tts:en-US-Neural2-J"
    phrases = [t for v, t in google.calls[:5]]
    assert phrases == s.tts_common_phrases
    # "Thanks for watching!" ends the narration: served from the phrase cache, no extra request
    assert google.calls[5:] == [("en-US-Neural2-J", "Rock melts far below. It rises to the top.")]
    assert served.value.cached_parts == 1 and served.value.requests == 6
    again = narrate(NARRATION, style="educational", premium=False, svc=voice_services(s, google, blobs=blobs))
    assert again.provider == "google-tts:en-US-Neural2-J (cache)" and len(google.calls) == 6
    assert again.value.cost_usd == 0


def test_each_voice_link_is_reached_by_failing_the_ones_above() -> None:
    s = settings(provider_retry_attempts=1, tts_max_request_bytes=40)
    blobs = InMemoryBlobStore()
    first, second = "Rock melts far below the crust.", "It rises because it is light."

    def run(text: str, down: dict):
        return narrate(text, style="x", premium=False, svc=voice_services(s, FakeSynth(down), blobs=blobs))

    assert run(first, {}).provider == "google-tts:en-US-Neural2-J"
    served = run(second, {"en-US-Neural2-J": transient()})
    assert served.provider == "google-tts:en-US-Standard-J"
    assert served.fallbacks[0].provider == "google-tts:en-US-Neural2-J"
    assert "server_error (transient)" in served.fallbacks[0].reason
    # Both voices down: the first part is cached under Neural2-J, the second under Standard-J.
    both = {"en-US-Neural2-J": transient(), "en-US-Standard-J": transient()}
    cached = run(f"{first} {second}", both)
    assert cached.provider == "cache:segments"
    assert cached.value.voice == "en-US-Neural2-J+en-US-Standard-J" and cached.value.cached_parts == 2
    fresh = run("Something never said before.", both)
    assert fresh.provider == "silence" and fresh.value.duration_s >= 1
    assert [f.provider for f in fresh.fallbacks] == [
        "google-tts:en-US-Neural2-J",
        "google-tts:en-US-Standard-J",
        "cache:segments",
    ]
    assert "1 of 1 parts are not in the segment cache" in fresh.fallbacks[-1].reason


def test_premium_jobs_get_elevenlabs_by_style_until_its_monthly_characters_run_out() -> None:
    s = settings(elevenlabs_monthly_char_limit=100)
    eleven, google = FakeSynth(), FakeSynth()
    budgets = Budgets(InMemoryLedger(), s)
    served = narrate(
        NARRATION, style="calm", premium=True, svc=voice_services(s, google, eleven=eleven, budgets=budgets)
    )
    assert served.provider == "elevenlabs:ErXwobaYiN019PkySvjV" and eleven.calls[0][1] == NARRATION
    assert served.value.cost_usd == Decimal(len(NARRATION)) * Decimal("0.30") / 1000
    again = narrate(
        NARRATION * 2,
        style="calm",
        premium=True,
        svc=voice_services(s, google, eleven=eleven, budgets=budgets),
    )
    assert again.provider == "google-tts:en-US-Neural2-J"
    assert "ElevenLabs characters per month" in again.fallbacks[0].reason


def test_multibyte_parts_stay_under_the_byte_limit_and_phrases_peel_only_when_free() -> None:
    voice = Voice("google_tts", "v", 60, utf8_len, Decimal("0.016"), True)
    text = "Crème brûlée à la façon de déjà vu. Thanks for watching. Ünïcödé sentences cost more bytes here."
    lookup = {"thanks for watching": "Thanks for watching"}
    parts = plan_parts(text, voice, lambda s: lookup.get(s.lower().rstrip(".")))
    assert all(utf8_len(p.text) <= 60 for p in parts)
    assert [p.key_text for p in parts if p.key_text != p.text] == ["Thanks for watching"]
    short = Voice("google_tts", "v", 5000, utf8_len, Decimal("0.016"), True)
    # In the middle of a text that fits one request, peeling would cost a second request: not done.
    assert len(plan_parts(text, short, lambda s: lookup.get(s.lower().rstrip(".")))) == 1


# --- media chain --------------------------------------------------------------------------------------------
class FakeStock:
    def __init__(self, name: str, results: int = 10, fail: Exception | None = None) -> None:
        self.name, self.results, self.fail = name, results, fail
        self.searches: list[str] = []
        self.fetched: list[str] = []

    def search(self, query, *, count, kind="photo"):
        self.searches.append(query)
        if self.fail:
            raise self.fail
        return [
            MediaItem(self.name, f"{query}-{i}", f"http://x/{i}", 1280, 720)
            for i in range(min(count, self.results))
        ]

    @contextmanager
    def fetch(self, item):
        self.fetched.append(item.item_id)
        yield Fetched(io.BytesIO(b"jpeg"), "image/jpeg")


def stock_chain(providers, s: Settings, *, cache=None, slots=None, budgets=None) -> StockChain:
    return StockChain(
        providers,
        cache=cache or InMemoryCache(),
        limiter=RateLimiter(slots or InMemoryRateSlots(), s.provider_rate_limits),
        budgets=budgets or Budgets(InMemoryLedger(), s),
        retry=no_sleep_policy(s),
        settings=s,
        job_id="job-1",
        min_results=5,
    )


def test_fewer_than_five_results_fall_through_and_combine() -> None:
    s = settings()
    pexels, pixabay = FakeStock("pexels", results=2), FakeStock("pixabay")
    chain = stock_chain([pexels, pixabay], s)
    items = chain.search("lava", count=8)
    assert [i.provider for i in items] == ["pexels"] * 2 + ["pixabay"] * 8
    assert chain.fallbacks[0].reason == "2 results for 'lava', fewer than 5"


def test_a_rate_limited_provider_is_skipped_not_called() -> None:
    s = settings(provider_rate_limits={"pexels": (2, 3600)})
    pexels, pixabay = FakeStock("pexels"), FakeStock("pixabay")
    chain = stock_chain([pexels, pixabay], s)
    for q in ("a", "b", "c", "d"):
        chain.search(q, count=5)
    assert pexels.searches == ["a", "b"] and pixabay.searches == ["c", "d"]
    assert "pexels rate limit: 2 requests per 3600 s already used" in chain.fallbacks[0].reason


def test_a_429_marks_the_provider_limited_for_every_instance() -> None:
    s = settings(provider_retry_attempts=1)
    slots = InMemoryRateSlots()
    pexels = FakeStock("pexels", fail=transient("rate_limited", retry_after_s=120))
    stock_chain([pexels, FakeStock("pixabay")], s, slots=slots).search("a", count=5)
    other_instance = stock_chain([pexels, FakeStock("pixabay")], s, slots=slots)
    other_instance.search("b", count=5)
    assert pexels.searches == ["a"]  # the second instance did not call it
    assert slots.limits["pexels"] > datetime.now(UTC) + timedelta(seconds=100)


def test_search_results_are_cached_a_day_without_taking_a_rate_slot() -> None:
    s = settings(provider_rate_limits={"pexels": (1, 3600)})
    cache, pexels = InMemoryCache(), FakeStock("pexels")
    first = stock_chain([pexels], s, cache=cache).search("lava", count=5)
    second = stock_chain([pexels], s, cache=cache).search("lava", count=5)
    assert first == second and pexels.searches == ["lava"] and cache.hits == 1


def test_premium_assets_are_reserved_paid_and_capped_per_video() -> None:
    s = settings(premium_stock_max_assets_per_video=2)
    budgets = Budgets(InMemoryLedger(), s)
    premium = FakeStock("shutterstock")
    chain = stock_chain([FakeStock("pexels", results=0), premium], s, budgets=budgets)
    items = chain.search("lava", count=8)
    assert len(items) == 2  # never more premium results than the video may license
    for item in items:
        with chain.fetch(item) as f:
            assert f.stream.read() == b"jpeg"
    assert chain.cost_usd == Decimal("1.00")
    with pytest.raises(Skipped, match="2 assets is this video's limit"), chain.fetch(items[0]):
        pass
    spent = budgets.usage(["all-video:job-1"])["all-video:job-1"]["spent"]
    assert from_micros(spent) == Decimal("1.00")


# --- thumbnail chain ----------------------------------------------------------------------------------------
class FakeImages:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail, self.calls = fail, 0

    def generate(self, prompt, *, model, size):
        self.calls += 1
        if self.fail:
            raise self.fail
        out = io.BytesIO()
        Image.new("RGB", (1792, 1024), (200, 40, 40)).save(out, "PNG")
        return GeneratedImage(out.getvalue(), model, size)


def thumb_services(s: Settings, images: FakeImages, cache=None, blobs=None) -> ThumbnailServices:
    return ThumbnailServices(
        images=lambda: images,
        cache=cache or InMemoryCache(),
        blobs=blobs or InMemoryBlobStore(),
        budgets=Budgets(InMemoryLedger(), s),
        retry=no_sleep_policy(s),
        settings=s,
        job_id="job-1",
    )


def test_thumbnail_from_a_generated_image_cached_a_day_with_a_webp_copy() -> None:
    s = settings()
    images, cache, blobs = FakeImages(), InMemoryCache(), InMemoryBlobStore()
    served = make_thumbnail("Volcanoes", thumb_services(s, images, cache, blobs))
    assert served.provider == "openai:dall-e-3" and served.value.cost_usd == Decimal("0.08")
    jpeg = Image.open(io.BytesIO(served.value.jpeg))
    assert (jpeg.format, jpeg.size) == ("JPEG", (1280, 720))
    assert Image.open(io.BytesIO(served.value.webp)).format == "WEBP"
    again = make_thumbnail("Volcanoes", thumb_services(s, images, cache, blobs))
    assert again.provider == "openai:dall-e-3 (cache)" and images.calls == 1 and again.value.cost_usd == 0


def test_thumbnail_falls_back_to_the_template() -> None:
    s = settings(provider_retry_attempts=1)
    served = make_thumbnail("Volcanoes", thumb_services(s, FakeImages(fail=transient())))
    assert served.provider == "pillow-template" and served.value.cost_usd == 0
    assert served.fallbacks[0].provider == "openai:dall-e-3"

"""The OpenAI, Google TTS and Pexels adapters driven through the official clients, over HTTP, against the
sandboxes; the domain functions on top of them."""

from __future__ import annotations

import array
import io
import socket
import wave
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from PIL import Image

from infra.sandboxes import openai_api, stock, tts
from infra.sandboxes.base import ServerThread
from shared.config import Settings
from shared.content import media as M
from shared.content import script as S
from shared.content import voice as V
from shared.content.google_tts import GoogleSpeechSynthesizer
from shared.content.openai_chat import OpenAIChatModel
from shared.content.pexels import PexelsSearch
from shared.ports import MediaItem, ProviderError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerThread]]:
    started = {
        "openai": ServerThread(openai_api.create_app()).start(),
        "tts": ServerThread(tts.create_app()).start(),
        "stock": ServerThread(stock.create_app()).start(),
    }
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(autouse=True)
def _clean_sandboxes(servers) -> None:
    for server in servers.values():
        requests.post(f"{server.url}/_control/reset", timeout=5).raise_for_status()


def settings_for(servers, **overrides) -> Settings:
    values = {
        "openai_base_url": f"{servers['openai'].url}/v1",
        "openai_api_key": "sk-integration",
        "openai_max_retries": 0,
        "openai_timeout_s": 10,
        "tts_endpoint": servers["tts"].url,
        "tts_timeout_s": 30,
        "pexels_base_url": servers["stock"].url,
        "pexels_api_key": "pexels-integration",
        "pexels_timeout_s": 10,
    }
    return Settings(**(values | overrides))


def fault(server: ServerThread, **spec) -> None:
    requests.post(f"{server.url}/_control/faults", json=spec, timeout=5).raise_for_status()


def calls(server: ServerThread, path: str) -> list[dict]:
    return [
        c
        for c in requests.get(f"{server.url}/_control/calls", timeout=5).json()["calls"]
        if c["path"] == path
    ]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# --- OpenAI ------------------------------------------------------------------------------------------------
def test_write_script_through_the_openai_client(servers) -> None:
    settings = settings_for(servers)
    script = S.write_script(
        S.ScriptRequest(topic="home coffee brewing", duration_s=60),
        chat=OpenAIChatModel(settings),
        settings=settings,
    )
    assert script.model == "gpt-3.5-turbo"
    assert script.title.startswith("Home coffee brewing")
    assert 130 <= script.word_count <= 175 and 50 <= script.estimated_duration_s <= 70
    assert "[" not in script.narration and "HOOK" not in script.narration
    assert len(script.visual_cues) >= 5 and len(script.headings) == 3
    assert script.prompt_tokens > 100 and script.completion_tokens > 150
    expected = Decimal(script.prompt_tokens + script.completion_tokens) * Decimal("0.002") / 1000
    assert script.cost_usd == expected.quantize(Decimal("0.000001"))
    assert len(calls(servers["openai"], "/v1/chat/completions")) == 1


def test_chat_usage_matches_what_the_api_reported(servers) -> None:
    settings = settings_for(servers)
    result = OpenAIChatModel(settings).complete(
        model="gpt-4",
        system="You write scripts.",
        user="Topic: kites\nDuration: 30 seconds",
        temperature=0.7,
        max_tokens=2000,
    )
    raw = requests.post(
        f"{servers['openai'].url}/v1/chat/completions",
        json={
            "model": "gpt-4",
            "messages": [
                {"role": "system", "content": "You write scripts."},
                {"role": "user", "content": "Topic: kites\nDuration: 30 seconds"},
            ],
        },
        headers={"Authorization": "Bearer x"},
        timeout=5,
    ).json()
    assert result.text == raw["choices"][0]["message"]["content"]
    assert (result.prompt_tokens, result.completion_tokens) == (
        raw["usage"]["prompt_tokens"],
        raw["usage"]["completion_tokens"],
    )


@pytest.mark.parametrize(
    ("spec", "transient", "reason"),
    [
        ({"status": 429, "retry_after_s": 1}, True, "rate_limit_exceeded"),
        ({"status": 429, "reason": "insufficient_quota"}, False, "insufficient_quota"),
        ({"status": 500}, True, "server_error"),
        ({"status": 503}, True, "server_error"),
        ({"status": 401, "reason": "invalid_api_key"}, False, "invalid_api_key"),
        ({"status": 400, "reason": "context_length_exceeded"}, False, "context_length_exceeded"),
    ],
)
def test_openai_failures_map_to_provider_errors(servers, spec: dict, transient: bool, reason: str) -> None:
    fault(servers["openai"], match="POST /v1/chat/completions", **spec)
    chat = OpenAIChatModel(settings_for(servers))
    with pytest.raises(ProviderError) as err:
        chat.complete(model="gpt-4", system="s", user="Topic: x", temperature=0.7, max_tokens=100)
    assert (err.value.transient, err.value.provider, err.value.reason) == (transient, "openai", reason)


def test_a_missing_key_is_a_permanent_error_before_any_call(servers) -> None:
    with pytest.raises(ProviderError) as err:
        OpenAIChatModel(settings_for(servers, openai_api_key=""))
    assert err.value.transient is False and err.value.reason == "missing_api_key"
    assert calls(servers["openai"], "/v1/chat/completions") == []


def test_provider_messages_never_carry_the_key(servers) -> None:
    key = "sk-proj-abcdefghijklmnop"
    fault(
        servers["openai"],
        match="POST /v1/chat",
        status=401,
        reason="invalid_api_key",
        message=f"Incorrect API key provided: {key}. You can find your API key in your account.",
    )
    chat = OpenAIChatModel(settings_for(servers, openai_api_key=key))
    with pytest.raises(ProviderError) as err:
        chat.complete(model="gpt-4", system="s", user="u", temperature=0.7, max_tokens=10)
    assert "Incorrect API key provided: ***" in str(err.value) and "abcdefgh" not in str(err.value)


def test_openai_client_retries_a_429_by_itself_honouring_retry_after(servers) -> None:
    fault(servers["openai"], match="POST /v1/chat/completions", status=429, retry_after_s=1, times=1)
    chat = OpenAIChatModel(settings_for(servers, openai_max_retries=1))
    result = chat.complete(model="gpt-4", system="s", user="Topic: x", temperature=0.7, max_tokens=2000)
    assert result.text.startswith("TITLE:")
    statuses = [c["status"] for c in calls(servers["openai"], "/v1/chat/completions")]
    assert statuses == [429, 200]


def test_openai_unreachable_is_transient(servers) -> None:
    chat = OpenAIChatModel(settings_for(servers, openai_base_url=closed_port_url() + "/v1"))
    with pytest.raises(ProviderError) as err:
        chat.complete(model="gpt-4", system="s", user="u", temperature=0.7, max_tokens=10)
    assert err.value.transient and err.value.reason == "connection"


# --- Google TTS --------------------------------------------------------------------------------------------
def wav_facts(data: bytes) -> tuple[int, float, int]:
    """(rate, duration_s, peak amplitude)."""
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        samples = array.array("h", w.readframes(w.getnframes()))
        return w.getframerate(), w.getnframes() / w.getframerate(), max(max(samples), -min(samples))


def test_google_tts_client_gets_espeak_speech_as_wav(servers) -> None:
    synth = GoogleSpeechSynthesizer(settings_for(servers))
    short = synth.synthesize(
        "Hello and welcome.", voice="en-US-Neural2-J", language_code="en-US", sample_rate_hz=24000
    )
    long = synth.synthesize(
        "Hello and welcome. Today we brew coffee at home, step by step, and taste the difference.",
        voice="en-US-Neural2-J",
        language_code="en-US",
        sample_rate_hz=24000,
    )
    rate, short_s, peak = wav_facts(short)
    assert short[:4] == b"RIFF" and rate == 24000 and peak > 2000  # a voice, not silence
    assert 0.5 < short_s < wav_facts(long)[1]


def test_long_multibyte_narration_uses_the_fewest_requests(servers) -> None:
    sentence = "Crème brûlée, café crème and naïve piñatas are déjà vu for the façade's über-chef. "
    text = sentence * (12_000 // len(sentence.encode()) + 1)
    assert 12_000 <= len(text.encode()) < 12_200 and len(text.encode()) > len(text)
    settings = settings_for(servers)
    narration = V.synthesize_narration(
        text,
        synth=GoogleSpeechSynthesizer(settings),
        voice="en-US-Standard-J",
        language_code="en-US",
        sample_rate_hz=8000,
        max_bytes=settings.tts_max_request_bytes,
        price_per_1k_chars=Decimal("0.004"),
    )
    requests_made = calls(servers["tts"], "/v1/text:synthesize")
    assert len(requests_made) == narration.requests == 3  # ceil(12,1xx / 5,000) with whole sentences
    assert all(c["status"] == 200 for c in requests_made)  # none over Google's 5,000-byte limit
    rate, duration_s, peak = wav_facts(narration.wav)
    assert rate == 8000 and peak > 2000 and duration_s == pytest.approx(narration.duration_s)
    assert duration_s > 60  # ~1,900 words of speech
    assert narration.chars == len(text.strip()) - (narration.requests - 1)  # spaces between parts unbilled
    assert narration.cost_usd == (Decimal(narration.chars) * Decimal("0.004") / 1000).quantize(
        Decimal("0.000001")
    )


@pytest.mark.parametrize(
    ("spec", "transient"),
    [
        ({"status": 429, "retry_after_s": 1}, True),
        ({"status": 500}, True),
        ({"status": 503}, True),
        ({"status": 403}, False),
    ],
)
def test_tts_failures_map_to_provider_errors(servers, spec: dict, transient: bool) -> None:
    fault(servers["tts"], match="POST /v1/text:synthesize", **spec)
    synth = GoogleSpeechSynthesizer(settings_for(servers))
    with pytest.raises(ProviderError) as err:
        synth.synthesize("Hi.", voice="en-US-Neural2-J", language_code="en-US", sample_rate_hz=16000)
    assert (err.value.transient, err.value.provider) == (transient, "google_tts")


def test_tts_rejections_are_permanent(servers) -> None:
    synth = GoogleSpeechSynthesizer(settings_for(servers))
    with pytest.raises(ProviderError) as err:
        synth.synthesize("é" * 2600, voice="en-US-Neural2-J", language_code="en-US", sample_rate_hz=16000)
    assert err.value.transient is False and "5000 bytes" in str(err.value)
    with pytest.raises(ProviderError) as err:
        synth.synthesize("Hi.", voice="en-US-Neural2-J", language_code="en-GB", sample_rate_hz=16000)
    assert err.value.transient is False


def test_tts_unreachable_is_transient(servers) -> None:
    synth = GoogleSpeechSynthesizer(settings_for(servers, tts_endpoint=closed_port_url()))
    with pytest.raises(ProviderError) as err:
        synth.synthesize("Hi.", voice="en-US-Neural2-J", language_code="en-US", sample_rate_hz=16000)
    assert err.value.transient


def test_tts_without_endpoint_or_credentials_is_permanent(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # not on Google Cloud: skip the metadata server probe
    with pytest.raises(ProviderError) as err:
        GoogleSpeechSynthesizer(Settings(tts_endpoint=""))
    assert err.value.transient is False and err.value.reason == "missing_credentials"


# --- Pexels ------------------------------------------------------------------------------------------------
def test_pexels_search_and_download_give_jpegs_of_the_video_size(servers) -> None:
    search = PexelsSearch(settings_for(servers, video_width=1280, video_height=720))
    items = search.search("coffee beans", count=4)
    assert len(items) == 4 and len({i.item_id for i in items}) == 4
    assert all(i.provider == "pexels" and (i.width, i.height) == (1280, 720) for i in items)
    assert all(i.url.startswith(servers["stock"].url) for i in items)
    with search.fetch(items[0]) as fetched:
        assert fetched.content_type == "image/jpeg"
        image = Image.open(io.BytesIO(fetched.stream.read()))
    assert (image.format, image.size) == ("JPEG", (1280, 720))
    assert search.rate_limit_remaining == 199


def test_pexels_video_search_answers_the_same_port(servers) -> None:
    assert PexelsSearch(settings_for(servers)).search("ocean waves", count=3, kind="video") == []
    assert calls(servers["stock"], "/videos/search")[0]["status"] == 200


def test_a_download_that_is_not_an_image_is_refused(servers) -> None:
    item = MediaItem("pexels", "1", f"{servers['stock'].url}/_control/health", 1280, 720)
    with pytest.raises(ProviderError) as err, PexelsSearch(settings_for(servers)).fetch(item):
        pass
    assert err.value.transient is False and err.value.reason == "bad_content_type"


def test_the_key_goes_to_the_api_only(servers) -> None:
    seen: list[dict] = []
    search = PexelsSearch(settings_for(servers))
    search._session.hooks["response"].append(lambda r, **_: seen.append(dict(r.request.headers)))
    with search.fetch(search.search("sea", count=1)[0]) as fetched:
        fetched.stream.read()
    assert seen[0]["Authorization"] == "pexels-integration"
    assert "Authorization" not in seen[1]


@pytest.mark.parametrize(
    ("spec", "transient", "reason"),
    [
        ({"status": 429, "retry_after_s": 1}, True, "rate_limited"),
        ({"status": 500}, True, "http_500"),
        ({"status": 502}, True, "http_502"),
        ({"status": 403}, False, "http_403"),
    ],
)
def test_pexels_failures_map_to_provider_errors(servers, spec: dict, transient: bool, reason: str) -> None:
    fault(servers["stock"], match="GET /v1/search", **spec)
    with pytest.raises(ProviderError) as err:
        PexelsSearch(settings_for(servers)).search("sea", count=3)
    assert (err.value.transient, err.value.provider, err.value.reason) == (transient, "pexels", reason)


def test_pexels_without_a_key_is_permanent(servers) -> None:
    with pytest.raises(ProviderError) as err:
        PexelsSearch(settings_for(servers, pexels_api_key="")).search("sea", count=3)
    assert err.value.transient is False and "Authorization field missing" in str(err.value)


def test_pexels_unreachable_is_transient(servers) -> None:
    with pytest.raises(ProviderError) as err:
        PexelsSearch(settings_for(servers, pexels_base_url=closed_port_url())).search("sea", count=3)
    assert err.value.transient and err.value.reason == "connection"


def test_gather_stills_broadens_thin_queries_against_the_sandbox(servers) -> None:
    requests.post(
        f"{servers['stock'].url}/_control/results", json={"query": "axolotl", "total": 2}, timeout=5
    )
    search = PexelsSearch(settings_for(servers))
    items = M.gather_stills(
        ["axolotl tank", "__empty__ thing"], search=search, count=6, topic="aquarium pets"
    )
    assert len(items) == 6 and len({i.item_id for i in items}) == 6
    queries = [c["path"] for c in calls(servers["stock"], "/v1/search")]
    assert len(queries) == 3  # two queries, the topic searched once for both

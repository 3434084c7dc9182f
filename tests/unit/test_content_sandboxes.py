"""The OpenAI, Google TTS and Pexels-shaped sandboxes, through Flask's test client."""

from __future__ import annotations

import array
import base64
import io
import re
import wave

import pytest
from PIL import Image

from infra.sandboxes import openai_api, stock, tts

AUTH = {"Authorization": "Bearer sk-test"}


def chat_body(topic: str = "home coffee brewing", duration_s: int = 60, **extra) -> dict:
    user = f"YouTube script:\n\nTopic: {topic}\nStyle: fun\nDuration: {duration_s} seconds"
    return {
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "system", "content": "You write scripts."}, {"role": "user", "content": user}],
        **extra,
    }


def spoken_words(script: str) -> int:
    lines = [
        ln
        for ln in script.splitlines()
        if not re.match(r"^(TITLE|HOOK|INTRO|POINT \d+|CALL TO|CONCLUSION)", ln)
    ]
    return len(re.sub(r"\[[^\]]*\]", " ", " ".join(lines)).split())


# --- OpenAI ------------------------------------------------------------------------------------------------
@pytest.fixture
def openai_client():
    return openai_api.create_app().test_client()


def test_openai_requires_a_bearer_key(openai_client) -> None:
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "sk-test"}):
        resp = openai_client.post("/v1/chat/completions", json=chat_body(), headers=headers)
        assert resp.status_code == 401
        assert set(resp.json["error"]) == {"message", "type", "param", "code"}
        assert resp.json["error"]["type"] == "invalid_request_error"


def test_chat_completion_has_openai_shape_and_a_structured_script(openai_client) -> None:
    resp = openai_client.post("/v1/chat/completions", json=chat_body(), headers=AUTH)
    assert resp.status_code == 200
    body = resp.json
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-3.5-turbo" and isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    content = choice["message"]["content"]
    assert content.startswith("TITLE: Home coffee brewing")
    for label in ("HOOK:", "INTRO:", "POINT 1:", "POINT 2:", "POINT 3:", "CALL TO ACTION:", "CONCLUSION:"):
        assert f"\n{label}" in content
    assert "POINT 4:" not in content  # 3 points for a one-minute video
    assert content.count("[VISUAL: ") >= 5 and "[PAUSE]" in content
    assert "home coffee brewing" in content


@pytest.mark.parametrize(("duration_s", "points"), [(60, 3), (180, 4), (600, 5)])
def test_script_length_follows_the_requested_duration(openai_client, duration_s: int, points: int) -> None:
    body = openai_client.post(
        "/v1/chat/completions", json=chat_body(duration_s=duration_s), headers=AUTH
    ).json
    content = body["choices"][0]["message"]["content"]
    target = duration_s * 150 / 60
    assert abs(spoken_words(content) - target) / target < 0.15
    assert f"POINT {points}:" in content and f"POINT {points + 1}:" not in content
    assert body["usage"]["completion_tokens"] == pytest.approx(len(content.split()) * 4 / 3, abs=1)


def test_duration_in_minutes_and_determinism(openai_client) -> None:
    body = chat_body()
    body["messages"][1]["content"] = "Topic: rockets\nDuration: ~2 minutes"
    first = openai_client.post("/v1/chat/completions", json=body, headers=AUTH).json
    again = openai_client.post("/v1/chat/completions", json=body, headers=AUTH).json
    assert first["choices"][0]["message"]["content"] == again["choices"][0]["message"]["content"]
    assert abs(spoken_words(first["choices"][0]["message"]["content"]) - 300) < 45


def test_max_tokens_truncates_with_finish_reason_length(openai_client) -> None:
    body = openai_client.post("/v1/chat/completions", json=chat_body(max_tokens=50), headers=AUTH).json
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 50
    assert len(body["choices"][0]["message"]["content"].split()) <= 50


def test_improve_prompt_gets_a_rewritten_script(openai_client) -> None:
    body = chat_body()
    body["messages"][1]["content"] = (
        "Improve this YouTube script based on the feedback:\nTopic: kites\nDuration: 60 seconds\n"
        "Original Script:\nHOOK:\nHi.\n\nFeedback:\nWeak hook"
    )
    content = openai_client.post("/v1/chat/completions", json=body, headers=AUTH).json["choices"][0][
        "message"
    ]
    assert "HOOK:\nStop scrolling for a second." in content["content"] and "kites" in content["content"]


def test_openai_request_errors(openai_client) -> None:
    resp = openai_client.post("/v1/chat/completions", json=chat_body() | {"model": "gpt-99"}, headers=AUTH)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "model_not_found"
    resp = openai_client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": []}, headers=AUTH)
    assert resp.status_code == 400 and resp.json["error"]["param"] == "messages"
    resp = openai_client.post("/v1/chat/completions", data="not json", headers=AUTH)
    assert resp.status_code == 400


def test_openai_faults_use_openai_error_shape_and_retry_after(openai_client) -> None:
    openai_client.post(
        "/_control/faults",
        json={"match": "POST /v1/chat/completions", "status": 429, "retry_after_s": 2, "times": 1},
    )
    resp = openai_client.post("/v1/chat/completions", json=chat_body(), headers=AUTH)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert resp.json["error"]["code"] == "rate_limit_exceeded" and resp.json["error"]["param"] is None
    assert openai_client.post("/v1/chat/completions", json=chat_body(), headers=AUTH).status_code == 200
    openai_client.post(
        "/_control/faults", json={"match": "POST /v1/chat", "status": 429, "reason": "insufficient_quota"}
    )
    quota = openai_client.post("/v1/chat/completions", json=chat_body(), headers=AUTH).json["error"]
    assert quota["type"] == quota["code"] == "insufficient_quota"
    openai_client.post("/_control/faults", json={"match": "POST /v1/chat", "status": 500})
    assert openai_client.post("/v1/chat/completions", json=chat_body(), headers=AUTH).json["error"][
        "type"
    ] == ("server_error")
    calls = openai_client.get("/_control/calls").json["calls"]
    assert [c["status"] for c in calls] == [429, 200, 429, 500]


def test_images_are_pngs_of_the_requested_size(openai_client) -> None:
    resp = openai_client.post(
        "/v1/images/generations",
        json={
            "model": "dall-e-3",
            "prompt": "a coffee thumbnail",
            "size": "1792x1024",
            "response_format": "b64_json",
        },
        headers=AUTH,
    )
    assert resp.status_code == 200
    image = Image.open(io.BytesIO(base64.b64decode(resp.json["data"][0]["b64_json"])))
    assert (image.format, image.size) == ("PNG", (1792, 1024))
    by_url = openai_client.post(
        "/v1/images/generations", json={"model": "dall-e-2", "prompt": "x", "size": "256x256"}, headers=AUTH
    ).json["data"][0]["url"]
    png = openai_client.get(by_url.split("localhost", 1)[1])
    assert png.status_code == 200 and Image.open(io.BytesIO(png.data)).size == (256, 256)
    bad = openai_client.post(
        "/v1/images/generations", json={"model": "dall-e-3", "prompt": "x", "size": "1280x720"}, headers=AUTH
    )
    assert bad.status_code == 400 and bad.json["error"]["param"] == "size"


def test_models_list(openai_client) -> None:
    body = openai_client.get("/v1/models", headers=AUTH).json
    assert body["object"] == "list"
    assert {"gpt-4", "gpt-3.5-turbo"} <= {m["id"] for m in body["data"]}
    assert openai_client.get("/v1/models/gpt-4", headers=AUTH).json["id"] == "gpt-4"


# --- Google TTS --------------------------------------------------------------------------------------------
def tts_body(text: str = "Hello there. This is a test.", **config) -> dict:
    return {
        "input": {"text": text},
        "voice": {"languageCode": "en-US", "name": "en-US-Neural2-J"},
        "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": 16000, "speakingRate": 1.0} | config,
    }


@pytest.fixture
def tts_client():
    return tts.create_app().test_client()


def decode_wav(resp) -> tuple[wave._wave_params, array.array]:
    data = base64.b64decode(resp.json["audioContent"])
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        return w.getparams(), array.array("h", w.readframes(w.getnframes()))


def test_tts_speaks_linear16_wav_at_the_requested_rate(tts_client) -> None:
    resp = tts_client.post("/v1/text:synthesize", json=tts_body())
    assert resp.status_code == 200 and set(resp.json) == {"audioContent"}
    params, samples = decode_wav(resp)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 16000)
    assert 1.0 < params.nframes / params.framerate < 5.0
    assert max(abs(s) for s in samples) > 2000  # speech, not silence


def test_tts_accepts_ssml_enum_numbers_and_default_rate(tts_client) -> None:
    body = tts_body()
    body["input"] = {"ssml": '<speak>Hello <break time="300ms"/> world</speak>'}
    body["audioConfig"] = {"audioEncoding": 1}
    params, _ = decode_wav(tts_client.post("/v1/text:synthesize", json=body))
    assert params.framerate == tts.NATURAL_RATE_HZ


def test_tts_faster_speaking_rate_is_shorter(tts_client) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 3
    normal, _ = decode_wav(tts_client.post("/v1/text:synthesize", json=tts_body(text)))
    fast, _ = decode_wav(tts_client.post("/v1/text:synthesize", json=tts_body(text, speakingRate=2.0)))
    assert fast.nframes < normal.nframes * 0.7


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b["audioConfig"].update(audioEncoding="MP3"), "MP3"),
        (lambda b: b["audioConfig"].update(audioEncoding="AUDIO_ENCODING_UNSPECIFIED"), "audio_encoding"),
        (lambda b: b["input"].update(text="é" * 2501), "5000 bytes"),
        (lambda b: b["input"].update(text="  "), "empty"),
        (lambda b: b["input"].update(ssml="<speak>x</speak>"), "Exactly one"),
        (lambda b: b["voice"].update(name="en-US-Nope-Z"), "does not exist"),
        (lambda b: b["voice"].update(languageCode="en-GB"), "doesn't match"),
        (lambda b: b["voice"].pop("languageCode"), "language_code"),
        (lambda b: b["audioConfig"].update(speakingRate=9), "speakingRate"),
    ],
)
def test_tts_invalid_requests_get_google_400(tts_client, mutate, message: str) -> None:
    body = tts_body()
    mutate(body)
    resp = tts_client.post("/v1/text:synthesize", json=body)
    assert resp.status_code == 400
    error = resp.json["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and message in error["message"]


def test_tts_input_of_exactly_5000_bytes_is_accepted() -> None:
    body = tts_body("é" * 2500)
    args = tts.parse_synthesize(body)
    assert args["text"] == "é" * 2500 and args["voice"].startswith("en-us+m")


def test_tts_without_espeak_says_so() -> None:
    client = tts.create_app(espeak_binary="espeak-ng-not-installed-here").test_client()
    resp = client.post("/v1/text:synthesize", json=tts_body())
    assert resp.status_code == 500
    assert "espeak-ng" in resp.json["error"]["message"] and "not installed" in resp.json["error"]["message"]


def test_tts_voices_and_faults(tts_client) -> None:
    voices = tts_client.get("/v1/voices?languageCode=en-US").json["voices"]
    assert {
        "name": "en-US-Neural2-J",
        "languageCodes": ["en-US"],
        "ssmlGender": "MALE",
        "naturalSampleRateHertz": 24000,
    } in voices
    assert all(v["languageCodes"] == ["en-US"] for v in voices)
    tts_client.post(
        "/_control/faults", json={"match": "POST /v1/text:synthesize", "status": 429, "retry_after_s": 3}
    )
    resp = tts_client.post("/v1/text:synthesize", json=tts_body())
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_each_google_voice_maps_to_an_espeak_voice_of_its_gender() -> None:
    assert tts.espeak_voice("en-US-Neural2-J").startswith("en-us+m")
    assert tts.espeak_voice("en-US-Neural2-F").startswith("en-us+f")
    assert tts.espeak_voice("en-GB-Standard-A").startswith("en-gb+f")
    assert tts.espeak_voice("en-US-Neural2-J") != tts.espeak_voice("en-US-Neural2-I")


# --- Pexels-shaped stock -----------------------------------------------------------------------------------
@pytest.fixture
def stock_app():
    return stock.create_app(rate_limit=5)


def test_stock_requires_the_key_in_pexels_scheme(stock_app) -> None:
    resp = stock_app.test_client().get("/v1/search?query=coffee")
    assert resp.status_code == 401 and resp.json == {"error": "Authorization field missing"}


def test_stock_search_shape_and_rate_limit_headers(stock_app) -> None:
    client = stock_app.test_client()
    resp = client.get("/v1/search?query=coffee cup&per_page=3&page=2", headers={"Authorization": "key"})
    assert resp.status_code == 200
    body = resp.json
    assert (body["page"], body["per_page"], body["total_results"]) == (
        2,
        3,
        stock.total_results("coffee cup"),
    )
    assert len(body["photos"]) == 3 and "next_page" in body and "prev_page" in body
    photo = body["photos"][0]
    assert {"id", "width", "height", "url", "photographer", "alt", "src", "avg_color"} <= set(photo)
    assert (photo["width"], photo["height"]) == (1920, 1080)
    assert set(photo["src"]) == {
        "original",
        "large2x",
        "large",
        "medium",
        "small",
        "portrait",
        "landscape",
        "tiny",
    }
    assert photo["src"]["original"] == f"http://localhost/_media/photos/{photo['id']}.jpg"
    assert photo["src"]["landscape"].endswith("?w=1200&h=627")
    assert resp.headers["X-Ratelimit-Limit"] == "5" and resp.headers["X-Ratelimit-Remaining"] == "4"
    assert int(resp.headers["X-Ratelimit-Reset"]) > 0
    again = client.get("/v1/search?query=coffee cup&per_page=3&page=2", headers={"Authorization": "key"}).json
    assert again["photos"] == body["photos"]  # deterministic


def test_stock_rate_limit_runs_out_with_429(stock_app) -> None:
    client = stock_app.test_client()
    statuses = [
        client.get("/v1/search?query=x", headers={"Authorization": "k"}).status_code for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    last = client.get("/v1/search?query=x", headers={"Authorization": "k"})
    assert last.headers["X-Ratelimit-Remaining"] == "0" and int(last.headers["Retry-After"]) >= 1
    client.post("/_control/reset")
    assert client.get("/v1/search?query=x", headers={"Authorization": "k"}).status_code == 200


def test_stock_empty_and_capped_results(stock_app) -> None:
    client = stock_app.test_client()
    auth = {"Authorization": "k"}
    assert client.get("/v1/search?query=__empty__ cats", headers=auth).json["photos"] == []
    client.post("/_control/results", json={"query": "rare", "total": 2})
    capped = client.get("/v1/search?query=rare orchid&per_page=10", headers=auth).json
    assert capped["total_results"] == 2 and len(capped["photos"]) == 2
    assert len(client.get("/v1/search?query=orchid&per_page=10", headers=auth).json["photos"]) == 10
    client.post("/_control/empty", json={"on": True})
    assert client.get("/v1/search?query=orchid", headers=auth).json["total_results"] == 0
    client.post("/_control/empty", json={"on": False})
    assert client.get("/v1/search?query=orchid", headers=auth).json["total_results"] > 0
    client.post("/_control/reset")
    assert len(client.get("/v1/search?query=rare orchid&per_page=10", headers=auth).json["photos"]) == 10


def test_stock_media_are_jpegs_of_the_requested_size_and_deterministic(stock_app) -> None:
    client = stock_app.test_client()
    photo = client.get("/v1/search?query=mountain", headers={"Authorization": "k"}).json["photos"][0]
    original = client.get(f"/_media/photos/{photo['id']}.jpg")
    assert original.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(original.data)).size == (1920, 1080)
    sized = client.get(f"/_media/photos/{photo['id']}.jpg?w=1280&h=720")
    assert Image.open(io.BytesIO(sized.data)).size == (1280, 720)
    assert client.get(f"/_media/photos/{photo['id']}.jpg?w=1280&h=720").data == sized.data
    assert Image.open(io.BytesIO(client.get(f"/_media/photos/{photo['id']}.jpg?w=640").data)).size == (
        640,
        360,
    )
    assert client.get(f"/_media/photos/{photo['id']}.jpg?w=99999").status_code == 400


def test_stock_video_search_is_empty_for_now(stock_app) -> None:
    body = stock_app.test_client().get("/videos/search?query=sea", headers={"Authorization": "k"}).json
    assert body["videos"] == [] and body["total_results"] == 0

"""ElevenLabs API sandbox that really speaks (espeak-ng, like the Google TTS sandbox):
`POST /v1/text-to-speech/<voice_id>?output_format=pcm_<rate>` with `xi-api-key` and
`{"text", "model_id", "voice_settings"}` answers raw 16-bit mono PCM; `GET /v1/voices`,
`GET /v1/user/subscription` (`character_count`, `character_limit`). Errors in ElevenLabs' shape,
`{"detail": {"status", "message"}}`: a missing key (401 invalid_api_key), an unknown voice (404
voice_not_found), text over 5,000 characters (400 max_character_limit_exceeded), the subscription's
characters spent (401 quota_exceeded), an mp3 format (400: the sandbox speaks PCM only)."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Response, jsonify, request

from infra.sandboxes.base import empty_requested, make_sandbox_app
from infra.sandboxes.tts import SandboxError, _pcm_from_wav_stream, synthesize_wav

MAX_TEXT_CHARS = 5000
PCM_RATES = (16000, 22050, 24000, 44100)
# The seed's voices by style (Rachel, Domi, Bella, Antoni) and Adam: voice id -> (name, espeak voice).
VOICES: dict[str, tuple[str, str]] = {
    "21m00Tcm4TlvDq8ikWAM": ("Rachel", "en-us+f2"),
    "AZnzlk1XvdvUeBnXmlld": ("Domi", "en-us+f4"),
    "EXAVITQu4vr4xnSDxMaL": ("Bella", "en-us+f3"),
    "ErXwobaYiN019PkySvjV": ("Antoni", "en-us+m4"),
    "pNInz6obpgDQGcFmaJgB": ("Adam", "en-us+m3"),
}


def elevenlabs_error_body(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"detail": {"status": reason or "sandbox_fault", "message": message or reason or f"HTTP {status}"}}


def _error(status: int, reason: str, message: str) -> Response:
    resp = jsonify(elevenlabs_error_body(status, reason, message))
    resp.status_code = status
    return resp


def create_app(*, character_limit: int = 100_000, espeak_binary: str = "espeak-ng") -> Flask:
    app = make_sandbox_app("elevenlabs", error_body=elevenlabs_error_body)
    lock = threading.Lock()
    usage = {"characters": 0}
    app.extensions["elevenlabs_usage"] = usage

    @app.before_request
    def _authenticate() -> Response | None:
        if request.path.startswith("/v1/") and not request.headers.get("xi-api-key", "").strip():
            return _error(401, "invalid_api_key", "Invalid API key")
        return None

    @app.post("/v1/text-to-speech/<voice_id>")
    def speak(voice_id: str) -> Response:
        if voice_id not in VOICES:
            return _error(404, "voice_not_found", f"A voice with the voice_id {voice_id} was not found.")
        fmt = request.args.get("output_format", "mp3_44100_128")
        if not fmt.startswith("pcm_") or not fmt[4:].isdigit() or int(fmt[4:]) not in PCM_RATES:
            return _error(
                400,
                "invalid_output_format",
                f"The sandbox speaks pcm_{{16000,22050,24000,44100}}, not {fmt}.",
            )
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _error(400, "invalid_text", "text must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            return _error(
                400,
                "max_character_limit_exceeded",
                f"Text is {len(text)} characters; the maximum for this model is {MAX_TEXT_CHARS}.",
            )
        with lock:
            remaining = character_limit - usage["characters"]
            if len(text) > remaining:
                return _error(
                    401,
                    "quota_exceeded",
                    f"This request exceeds your quota. You have {remaining} credits remaining, "
                    f"while {len(text)} credits are required for this request.",
                )
            usage["characters"] += len(text)
        if empty_requested():
            return Response(b"", 200, mimetype="audio/pcm")
        try:
            wav = synthesize_wav(
                text, ssml=False, voice=VOICES[voice_id][1], sample_rate_hz=int(fmt[4:]), binary=espeak_binary
            )
        except SandboxError as err:
            return _error(err.status, "synthesis_failed", err.message)
        pcm, _ = _pcm_from_wav_stream(wav)
        return Response(pcm, 200, mimetype="audio/pcm")

    @app.get("/v1/voices")
    def voices() -> Response:
        return jsonify(
            {"voices": [{"voice_id": v, "name": n, "category": "premade"} for v, (n, _) in VOICES.items()]}
        )

    @app.get("/v1/user/subscription")
    def subscription() -> Response:
        with lock:
            used = usage["characters"]
        return jsonify({"tier": "creator", "character_count": used, "character_limit": character_limit})

    return app

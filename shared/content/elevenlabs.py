"""SpeechSynthesizer adapter for ElevenLabs (the premium voice): `POST /v1/text-to-speech/{voice_id}` with
`xi-api-key`, asking for raw PCM (`output_format=pcm_<rate>`) so parts join like Google's WAV. `voice` is
an ElevenLabs voice id. Requests are limited in characters (5,000 for most models), not bytes."""

from __future__ import annotations

import io
import wave

import requests

from shared.config import Settings
from shared.content.http_api import HttpApi
from shared.ports import ProviderError

PROVIDER = "elevenlabs"
PCM_RATES = (16000, 22050, 24000, 44100)


def _detail(resp: requests.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return resp.text[:200]
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("status"))
    return str(detail)[:200]


def _reason(resp: requests.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return ""
    return str(detail.get("status", "")) if isinstance(detail, dict) else ""


class ElevenLabsSynthesizer:
    def __init__(self, settings: Settings) -> None:
        self._api_key = settings.elevenlabs_api_key.get_secret_value()
        if not self._api_key:
            raise ProviderError(
                "elevenlabs_api_key is not set (YTEMPIRE_ELEVENLABS_API_KEY)",
                transient=False,
                provider=PROVIDER,
                reason="missing_api_key",
            )
        self._base_url = settings.elevenlabs_base_url.rstrip("/")
        self._model_id = settings.elevenlabs_model_id
        self._api = HttpApi(
            PROVIDER, timeout_s=settings.elevenlabs_timeout_s, error_detail=_detail, reason_for=_reason
        )

    def synthesize(self, text: str, *, voice: str, language_code: str, sample_rate_hz: int) -> bytes:
        rate = min(PCM_RATES, key=lambda r: abs(r - sample_rate_hz))
        what = f"speech {voice}"
        resp = self._api.request(
            "POST",
            f"{self._base_url}/v1/text-to-speech/{voice}",
            what,
            params={"output_format": f"pcm_{rate}"},
            headers={"xi-api-key": self._api_key, "Accept": "audio/pcm", "Content-Type": "application/json"},
            json={
                "text": text,
                "model_id": self._model_id,
                "voice_settings": {
                    "stability": 0.5,
                    "similarity_boost": 0.75,
                    "style": 0.4,
                    "use_speaker_boost": True,
                },
            },
        )
        pcm = resp.content
        if not pcm:
            raise ProviderError(
                f"{PROVIDER} {what}: empty audio", transient=True, provider=PROVIDER, reason="empty_audio"
            )
        if rate != sample_rate_hz:
            raise ProviderError(
                f"{PROVIDER}: {sample_rate_hz} Hz is not one of its PCM rates {PCM_RATES}",
                transient=False,
                provider=PROVIDER,
                reason="unsupported_rate",
            )
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(rate)
            writer.writeframes(pcm[: len(pcm) // 2 * 2])
        return out.getvalue()

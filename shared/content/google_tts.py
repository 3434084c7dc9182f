"""SpeechSynthesizer adapter for Google Cloud Text-to-Speech (the official client over its REST transport),
LINEAR16 with a WAV header; provider failures mapped to ProviderError (429, 5xx, timeouts: transient)."""

from __future__ import annotations

import io
import wave

import requests
from google.api_core import exceptions as google_exceptions
from google.auth import exceptions as google_auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import texttospeech

from shared.config import Settings
from shared.ports import ProviderError, retry_after_seconds

PROVIDER = "google_tts"
_TRANSIENT_CODES = frozenset({408, 429, 500, 502, 503, 504})


def _as_wav(audio: bytes, sample_rate_hz: int) -> bytes:
    """Google's LINEAR16 comes with a WAV header; raw PCM (no header) is wrapped in one."""
    if audio[:4] == b"RIFF":
        return audio
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate_hz)
        writer.writeframes(audio)
    return out.getvalue()


class GoogleSpeechSynthesizer:
    """One TextToSpeechClient per instance. REST transport in every environment: it is the one that
    also speaks to a plain-http local endpoint (`settings.tts_endpoint`), with anonymous credentials."""

    def __init__(self, settings: Settings) -> None:
        if settings.tts_endpoint:
            self._client = texttospeech.TextToSpeechClient(
                transport="rest",
                client_options={"api_endpoint": settings.tts_endpoint},
                credentials=AnonymousCredentials(),
            )
        else:
            try:
                self._client = texttospeech.TextToSpeechClient(transport="rest")
            except google_auth_exceptions.DefaultCredentialsError as exc:
                raise ProviderError(
                    f"Google TTS: no application default credentials ({exc})",
                    transient=False,
                    provider=PROVIDER,
                    reason="missing_credentials",
                ) from None
        self._timeout_s = settings.tts_timeout_s
        self._speaking_rate = settings.tts_speaking_rate

    def synthesize(self, text: str, *, voice: str, language_code: str, sample_rate_hz: int) -> bytes:
        try:
            response = self._client.synthesize_speech(
                input=texttospeech.SynthesisInput(text=text),
                voice=texttospeech.VoiceSelectionParams(language_code=language_code, name=voice),
                audio_config=texttospeech.AudioConfig(
                    audio_encoding=texttospeech.AudioEncoding.LINEAR16,
                    sample_rate_hertz=sample_rate_hz,
                    speaking_rate=self._speaking_rate,
                ),
                timeout=self._timeout_s,
            )
        except google_exceptions.GoogleAPICallError as exc:
            code = int(exc.code) if exc.code is not None else 0
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None) or {}
            raise ProviderError(
                f"Google TTS {voice}: HTTP {code}: {exc.message}",
                transient=code in _TRANSIENT_CODES,
                provider=PROVIDER,
                reason=exc.reason or f"http_{code}",
                retry_after_s=retry_after_seconds(headers.get("Retry-After")),
            ) from None
        except google_exceptions.RetryError as exc:
            raise ProviderError(
                f"Google TTS {voice}: retries exhausted: {exc.message}",
                transient=True,
                provider=PROVIDER,
                reason="retry_exhausted",
            ) from None
        except requests.exceptions.Timeout:
            raise ProviderError(
                f"Google TTS {voice}: timed out", transient=True, provider=PROVIDER, reason="timeout"
            ) from None
        except requests.exceptions.ConnectionError:
            raise ProviderError(
                f"Google TTS {voice}: connection failed",
                transient=True,
                provider=PROVIDER,
                reason="connection",
            ) from None
        if not response.audio_content:
            raise ProviderError(
                f"Google TTS {voice}: empty audio", transient=True, provider=PROVIDER, reason="empty_audio"
            )
        return _as_wav(response.audio_content, sample_rate_hz)

"""The voice step's provider chain (seed "Voice_Synthesis"): ElevenLabs (premium jobs, voice by style,
monthly character limit) -> Google `en-US-Neural2-J` -> `en-US-Standard-J` -> cached audio segments ->
silence of the narration's estimated length (the emergency link: the quality gate then reports it).

Every synthesized part is kept in Cloud Storage keyed by provider + voice + audio settings + text, so a
retry, a regeneration or another job saying the same thing costs no request. The seed's common phrases
are synthesized once per Google voice; a narration sentence that is one of them is served from the
cache when that takes no more requests than packing it with its neighbours would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from shared.config import Settings
from shared.content.chain import Link, Provided, RetryPolicy, Served, Skipped, run_chain
from shared.content.script import estimate_duration_s
from shared.content.voice import (
    Narration,
    join_wavs,
    price_for_voice,
    sentences,
    silent_wav,
    split_for_tts,
    utf8_len,
    wav_duration_s,
)
from shared.ops.budgets import Budgets, OverBudget, to_micros
from shared.ports import BlobStore, ProviderError, SpeechSynthesizer, usd

PHRASES_MARKER = "_common-phrases.json"


@dataclass(frozen=True)
class Part:
    text: str  # what is sent to the provider
    key_text: str  # what the cache is keyed by (a common phrase's canonical wording)


class SegmentCache:
    """Synthesized parts in Cloud Storage: `gs://<bucket>/<prefix><provider>/<voice>/<sha256>.wav`."""

    def __init__(self, blobs: BlobStore, bucket: str, prefix: str) -> None:
        self._blobs = blobs
        self._root = f"gs://{bucket}/{prefix.strip('/')}/"

    def path(self, provider: str, voice: str, audio: str, text: str) -> str:
        digest = hashlib.sha256(f"{provider}\x00{voice}\x00{audio}\x00{text}".encode()).hexdigest()
        return f"{self._root}{provider}/{voice}/{digest}.wav"

    def get(self, uri: str) -> bytes | None:
        try:
            return self._blobs.get_bytes(uri)
        except FileNotFoundError:
            return None

    def put(self, uri: str, data: bytes, content_type: str = "audio/wav") -> None:
        self._blobs.put_bytes(uri, data, content_type)

    def has(self, uri: str) -> bool:
        return self._blobs.exists(uri)

    def marker(self, provider: str, voice: str) -> str:
        return f"{self._root}{provider}/{voice}/{PHRASES_MARKER}"


@dataclass
class VoiceServices:
    google: Callable[[], SpeechSynthesizer]
    elevenlabs: Callable[[], SpeechSynthesizer] | None
    segments: SegmentCache
    budgets: Budgets
    retry: RetryPolicy
    settings: Settings
    job_id: str


@dataclass(frozen=True)
class Voice:
    provider: str  # google_tts | elevenlabs
    voice: str
    max_request: int
    measure: Callable[[str], int]
    price_per_1k_chars: Decimal
    precache_phrases: bool

    @property
    def name(self) -> str:
        return f"{'google-tts' if self.provider == 'google_tts' else self.provider}:{self.voice}"


def canonical(sentence: str) -> str:
    return re.sub(r"[^\w' ]+", "", " ".join(sentence.lower().replace("\u2019", "'").split())).strip()


def plan_parts(text: str, voice: Voice, cached_phrase: Callable[[str], str | None]) -> list[Part]:
    """The parts to synthesize or fetch: sentences packed greedily under the request limit; a sentence that
    is a cached common phrase becomes a part of its own when that needs no more requests than not."""
    plain = [Part(p, p) for p in split_for_tts(text, voice.max_request, voice.measure)]
    peeled: list[Part] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            peeled.extend(Part(p, p) for p in split_for_tts(" ".join(run), voice.max_request, voice.measure))
            run.clear()

    found = False
    for sentence in sentences(text):
        phrase = cached_phrase(sentence)
        if phrase is None:
            run.append(sentence)
        else:
            flush()
            peeled.append(Part(sentence, phrase))
            found = True
    flush()
    if not found:
        return plain
    uncached = sum(1 for p in peeled if p.key_text == p.text)
    return peeled if uncached <= len(plain) else plain


def narrate(text: str, *, style: str, premium: bool, svc: VoiceServices) -> Served[Narration]:
    s = svc.settings
    google = [
        Voice(
            "google_tts",
            v,
            s.tts_max_request_bytes,
            utf8_len,
            price_for_voice(v, s.tts_price_per_1k_chars_usd),
            True,
        )
        for v in (s.tts_voice_primary, s.tts_voice_fallback)
    ]
    links: list[Link[Narration]] = []
    if premium and svc.elevenlabs is not None:
        voice_id = s.elevenlabs_voices.get(style) or s.elevenlabs_voices.get("professional", "")
        eleven = Voice(
            "elevenlabs",
            voice_id,
            s.elevenlabs_max_request_chars,
            len,
            s.elevenlabs_price_per_1k_chars_usd,
            False,
        )
        links.append(Link(eleven.name, lambda: _synthesize(text, eleven, svc.elevenlabs, svc)))  # type: ignore[arg-type]
    for v in google:
        links.append(Link(v.name, lambda v=v: _synthesize(text, v, svc.google, svc)))
    links.append(Link("cache:segments", lambda: _from_cache(text, google, svc)))
    links.append(Link("silence", lambda: _silence(text, svc)))
    return run_chain("voice", links)


def _audio_key(s: Settings) -> str:
    return f"{s.tts_language_code}|{s.tts_sample_rate_hz}|{s.tts_speaking_rate}"


def _phrase_lookup(voice: Voice, svc: VoiceServices) -> Callable[[str], str | None]:
    if not voice.precache_phrases:
        return lambda _sentence: None
    phrases = {canonical(p): p for p in svc.settings.tts_common_phrases}
    return lambda sentence: phrases.get(canonical(sentence))


def _synthesize(
    text: str, voice: Voice, factory: Callable[[], SpeechSynthesizer], svc: VoiceServices
) -> Narration:
    s = svc.settings
    audio = _audio_key(s)
    cache = svc.segments
    warm = voice.precache_phrases and not cache.has(cache.marker(voice.provider, voice.voice))
    phrase_chars = sum(len(p) for p in s.tts_common_phrases) if warm else 0
    # Reserve the most this can cost: every character of the text, and the phrases when warming them.
    estimate_chars = len(text) + phrase_chars
    charges = svc.budgets.charges(
        "tts",
        svc.job_id,
        usd(Decimal(estimate_chars) * voice.price_per_1k_chars / 1000),
        elevenlabs_chars=estimate_chars if voice.provider == "elevenlabs" else 0,
    )
    try:
        reservation = svc.budgets.reserve(charges)
    except OverBudget as over:
        raise Skipped(str(over)) from None
    billed = 0
    requests = 0
    cached_parts = 0
    synths: list[SpeechSynthesizer] = []
    try:

        def speak(part_text: str) -> bytes:
            nonlocal billed, requests
            if not synths:  # built only when a part is not cached: a narration in the cache needs no client
                synths.append(factory())
            synth = synths[0]
            wav = svc.retry.call(
                lambda: synth.synthesize(
                    part_text,
                    voice=voice.voice,
                    language_code=s.tts_language_code,
                    sample_rate_hz=s.tts_sample_rate_hz,
                ),
                provider=voice.name,
            )
            billed += len(part_text)
            requests += 1
            return wav

        if warm:  # the seed's TTSOptimizer.pre_cache_phrases, once per voice
            for phrase in s.tts_common_phrases:
                path = cache.path(voice.provider, voice.voice, audio, phrase)
                if not cache.has(path):
                    cache.put(path, speak(phrase))
            marker = json.dumps(s.tts_common_phrases).encode()
            cache.put(cache.marker(voice.provider, voice.voice), marker, "application/json")
        parts = plan_parts(text, voice, _phrase_lookup(voice, svc))
        if not parts:
            raise ProviderError(
                "narration text is empty", transient=False, provider=voice.provider, reason="empty_text"
            )
        wavs = []
        for part in parts:
            path = cache.path(voice.provider, voice.voice, audio, part.key_text)
            wav = cache.get(path)
            if wav is None:
                wav = speak(part.text)
                cache.put(path, wav)
            else:
                cached_parts += 1
            wavs.append(wav)
    finally:
        cost = usd(Decimal(billed) * voice.price_per_1k_chars / 1000)
        svc.budgets.settle(reservation, {"usd": to_micros(cost), "chars": billed})
    wav = join_wavs(wavs)
    narration = Narration(
        wav=wav,
        duration_s=wav_duration_s(wav),
        chars=billed,
        requests=requests,
        cost_usd=cost,
        voice=voice.voice,
        cached_parts=cached_parts,
    )
    if requests == 0:
        return Provided(narration, f"{voice.name} (cache)")  # type: ignore[return-value]
    return narration


def _from_cache(text: str, voices: list[Voice], svc: VoiceServices) -> Narration:
    """Every part already synthesized by one of the chain's voices (the first that has it)."""
    audio = _audio_key(svc.settings)
    parts = split_for_tts(text, voices[0].max_request, voices[0].measure)
    wavs, used = [], []
    for part in parts:
        for v in voices:
            wav = svc.segments.get(svc.segments.path(v.provider, v.voice, audio, part))
            if wav is not None:
                wavs.append(wav)
                used.append(v.voice)
                break
    if len(wavs) < len(parts) or not parts:
        raise Skipped(f"{len(parts) - len(wavs)} of {len(parts)} parts are not in the segment cache")
    wav = join_wavs(wavs)
    return Narration(
        wav=wav,
        duration_s=wav_duration_s(wav),
        chars=0,
        requests=0,
        cost_usd=Decimal(0),
        voice="+".join(dict.fromkeys(used)),
        cached_parts=len(parts),
    )


def _silence(text: str, svc: VoiceServices) -> Narration:
    s = svc.settings
    seconds = max(1, estimate_duration_s(text, s.words_per_minute))
    wav = silent_wav(seconds, s.tts_sample_rate_hz)
    return Narration(
        wav=wav, duration_s=float(seconds), chars=0, requests=0, cost_usd=Decimal(0), voice="silence"
    )

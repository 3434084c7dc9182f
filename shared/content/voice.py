"""Narration: text split at sentence boundaries under the TTS request limit (in UTF-8 bytes), one
synthesis per part, parts joined into one WAV; duration and cost. Pure functions over SpeechSynthesizer."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shared.ports import SpeechSynthesizer, usd

# Terminal punctuation that ends a sentence when followed by whitespace (Latin) or anywhere (CJK).
_LATIN_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")
_CJK_END = re.compile(r"(?<=[\u3002\uff01\uff1f])")
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Narration:
    wav: bytes
    duration_s: float
    chars: int  # characters billed (sum over requests)
    requests: int
    cost_usd: Decimal
    voice: str
    cached_parts: int = 0  # parts served from the segment cache (not billed, no request)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def sentences(text: str) -> list[str]:
    """Sentences of `text`, whitespace collapsed; a blank line also ends a sentence."""
    out: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        current: list[str] = []
        for token in paragraph.split():
            pieces = [p for p in _CJK_END.split(token) if p]
            for i, piece in enumerate(pieces):
                current.append(piece)
                cjk_end = i < len(pieces) - 1 or piece[-1] in "\u3002\uff01\uff1f"
                if cjk_end or _LATIN_END.search(piece):
                    out.append(" ".join(current))
                    current = []
        if current:
            out.append(" ".join(current))
    return out


def _char_chunks(word: str, max_bytes: int, measure: Callable[[str], int] = utf8_len) -> Iterator[str]:
    """A word longer than the limit, cut at character boundaries (never inside a UTF-8 sequence)."""
    chunk, size = [], 0
    for ch in word:
        n = measure(ch)
        if size + n > max_bytes:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(ch)
        size += n
    if chunk:
        yield "".join(chunk)


def split_for_tts(text: str, max_bytes: int, measure: Callable[[str], int] = utf8_len) -> list[str]:
    """Parts of `text`, each at most `max_bytes` in UTF-8, in as few parts as sentence boundaries allow.

    Sentences are packed greedily (optimal for an ordered sequence). A sentence longer than the limit
    starts a new part and is cut at word boundaries; a word longer than the limit, at characters.
    `measure=len` makes the limit one of characters (ElevenLabs) instead of bytes (Google).
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must be at least 4 (one UTF-8 character)")
    utf8_len = measure
    parts: list[str] = []
    current = ""

    def add(piece: str) -> None:
        nonlocal current
        candidate = f"{current} {piece}" if current else piece
        if utf8_len(candidate) <= max_bytes:
            current = candidate
        else:
            parts.append(current)
            current = piece

    for sentence in sentences(text):
        if utf8_len(sentence) <= max_bytes:
            add(sentence)
            continue
        if current:
            parts.append(current)
            current = ""
        for word in sentence.split(" "):
            if utf8_len(word) <= max_bytes:
                add(word)
            else:
                for chunk in _char_chunks(word, max_bytes, measure):
                    add(chunk)
    if current:
        parts.append(current)
    return parts


def join_wavs(parts: Sequence[bytes]) -> bytes:
    """One WAV from several with the same channels, sample width and rate."""
    if not parts:
        raise ValueError("no WAV parts to join")
    params: tuple[int, int, int] | None = None
    frames: list[bytes] = []
    for index, data in enumerate(parts):
        with wave.open(io.BytesIO(data), "rb") as reader:
            these = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate())
            if params is None:
                params = these
            elif these != params:
                raise ValueError(
                    f"WAV part {index} has (channels, sample width, rate) {these}, part 0 has {params}"
                )
            frames.append(reader.readframes(reader.getnframes()))
    assert params is not None
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(params[0])
        writer.setsampwidth(params[1])
        writer.setframerate(params[2])
        writer.writeframes(b"".join(frames))
    return out.getvalue()


def wav_duration_s(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def price_for_voice(voice: str, prices: dict[str, Decimal]) -> Decimal:
    """USD per 1k characters for `voice`; an unpriced voice costs the highest known price."""
    if voice in prices:
        return Decimal(prices[voice])
    if not prices:
        raise ValueError("no TTS prices configured")
    return max(Decimal(p) for p in prices.values())


def synthesize_narration(
    text: str,
    *,
    synth: SpeechSynthesizer,
    voice: str,
    language_code: str,
    sample_rate_hz: int,
    max_bytes: int,
    price_per_1k_chars: Decimal,
) -> Narration:
    parts = split_for_tts(text, max_bytes)
    if not parts:
        raise ValueError("narration text is empty")
    wavs = [
        synth.synthesize(part, voice=voice, language_code=language_code, sample_rate_hz=sample_rate_hz)
        for part in parts
    ]
    wav = join_wavs(wavs)
    chars = sum(len(part) for part in parts)
    return Narration(
        wav=wav,
        duration_s=wav_duration_s(wav),
        chars=chars,
        requests=len(parts),
        cost_usd=usd(Decimal(chars) * Decimal(price_per_1k_chars) / 1000),
        voice=voice,
    )


def silent_wav(seconds: float, sample_rate_hz: int) -> bytes:
    """Mono 16-bit silence: the voice chain's emergency last link."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate_hz)
        writer.writeframes(b"\x00\x00" * max(1, round(seconds * sample_rate_hz)))
    return out.getvalue()

"""Voice domain: splitting under the TTS byte limit, joining WAVs, narration cost and duration."""

from __future__ import annotations

import io
import re
import wave
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.content import voice as V


def utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def optimal_parts(sentences: list[str], max_bytes: int) -> int:
    """Fewest parts for an ordered list of sentences joined by single spaces (dynamic programming)."""
    n = len(sentences)
    best = [0] + [n + 1] * n
    for end in range(1, n + 1):
        size = -1
        for start in range(end - 1, -1, -1):
            size += utf8(sentences[start]) + 1
            if size > max_bytes:
                break
            best[end] = min(best[end], best[start] + 1)
    return best[n]


def make_wav(seconds: float, rate: int = 16000, amplitude: int = 3000) -> bytes:
    frames = int(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(amplitude.to_bytes(2, "little", signed=True) * frames)
    return out.getvalue()


# --- sentences and splitting --------------------------------------------------------------------------------
def test_sentences_end_at_terminal_punctuation_blank_lines_and_cjk_marks() -> None:
    text = (
        'He said "Stop!" Then left. Really?\n\n'
        "New paragraph without a stop\n\n今日は晴れです。明日は雨\uff01 OK."
    )
    assert V.sentences(text) == [
        'He said "Stop!"',
        "Then left.",
        "Really?",
        "New paragraph without a stop",
        "今日は晴れです。",
        "明日は雨\uff01",
        "OK.",
    ]


def test_sentences_are_packed_greedily_under_the_limit() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten."
    assert V.split_for_tts(text, 30) == ["One two three. Four five six.", "Seven eight nine. Ten."]
    assert V.split_for_tts(text, 1000) == [text]
    assert V.split_for_tts("   \n ", 100) == []


def test_the_limit_is_in_bytes_not_characters() -> None:
    sentence = "猫が好きです。"  # 7 characters, 21 bytes
    parts = V.split_for_tts(sentence * 10, 50)
    assert all(utf8(p) <= 50 for p in parts)
    assert [len(p) for p in parts] == [15] * 5  # two sentences and a space (43 bytes) per part
    emoji = "Good news 🎉🎉. " * 20
    assert all(utf8(p) <= 40 for p in V.split_for_tts(emoji, 40))


def test_a_sentence_over_the_limit_is_cut_at_word_boundaries() -> None:
    long_sentence = " ".join(f"wörd{i}" for i in range(200)) + "."
    parts = V.split_for_tts(f"Short one. {long_sentence} After.", 100)
    assert parts[0] == "Short one."  # the long sentence starts its own request
    assert all(utf8(p) <= 100 for p in parts)
    words = " ".join(parts).split(" ")
    assert words == ["Short", "one.", *long_sentence.split(" "), "After."]  # no word was cut


def test_a_single_word_over_the_limit_is_cut_at_character_boundaries() -> None:
    word = "é" * 30 + "🎉" * 10  # 60 + 40 bytes
    parts = V.split_for_tts(word, 11)
    assert all(utf8(p) <= 11 for p in parts)
    assert "".join(parts) == word
    assert len(parts) == 11  # 6 parts of 5 "é" (10 bytes), then 5 parts of 2 emoji (8 bytes)
    with pytest.raises(ValueError):
        V.split_for_tts("x", 3)


_WORD = st.text(
    alphabet=st.sampled_from([*"abcdefghij", "é", "ß", "日", "本", "🎉", "ø"]),
    min_size=1,
    max_size=12,
)
_SENTENCE = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(_WORD, min_size=1, max_size=8),
    st.sampled_from([".", "!", "?", "。"]),
)
_SPACE = st.sampled_from([" ", "  ", "\n", "\n\n", "\t "])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_SENTENCE, _SPACE), min_size=0, max_size=25), st.integers(min_value=4, max_value=300)
)
def test_split_properties(pieces: list[tuple[str, str]], max_bytes: int) -> None:
    text = "".join(s + sp for s, sp in pieces)
    parts = V.split_for_tts(text, max_bytes)
    assert all(0 < utf8(p) <= max_bytes for p in parts)
    assert squash("".join(parts)) == squash(text)
    sentences = V.sentences(text)
    if all(utf8(s) <= max_bytes for s in sentences):
        assert len(parts) == optimal_parts(sentences, max_bytes)


_SHORT_SENTENCE = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(
        st.text(alphabet=st.sampled_from([*"abcxyz", "é", "日", "🎉"]), min_size=1, max_size=6),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([".", "?", "。"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_SHORT_SENTENCE, min_size=1, max_size=60), st.integers(min_value=100, max_value=500))
def test_split_uses_the_fewest_requests_when_sentences_fit(sentences: list[str], max_bytes: int) -> None:
    text = " ".join(sentences)
    parts = V.split_for_tts(text, max_bytes)
    assert len(parts) == optimal_parts(V.sentences(text), max_bytes)


@settings(max_examples=60, deadline=None)
@given(st.lists(_SENTENCE, min_size=1, max_size=40), st.integers(min_value=20, max_value=400))
def test_split_never_cuts_a_sentence_that_fits(sentences: list[str], max_bytes: int) -> None:
    parts = V.split_for_tts(" ".join(sentences), max_bytes)
    fitting = [s for s in V.sentences(" ".join(sentences)) if utf8(s) <= max_bytes]
    for sentence in fitting:
        assert any(sentence in part for part in parts)


# --- WAV ------------------------------------------------------------------------------------------------
def test_join_wavs_concatenates_audio() -> None:
    joined = V.join_wavs([make_wav(0.5), make_wav(1.25), make_wav(0.25)])
    assert V.wav_duration_s(joined) == pytest.approx(2.0)
    with wave.open(io.BytesIO(joined)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)


def test_join_wavs_refuses_mixed_formats_and_nothing() -> None:
    with pytest.raises(ValueError, match="part 1"):
        V.join_wavs([make_wav(0.1, rate=16000), make_wav(0.1, rate=24000)])
    with pytest.raises(ValueError):
        V.join_wavs([])


# --- narration ------------------------------------------------------------------------------------------
class FakeSynth:
    """A WAV of 10 ms per character; records every request."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.requests: list[dict] = []

    def synthesize(self, text: str, *, voice: str, language_code: str, sample_rate_hz: int) -> bytes:
        assert utf8(text) <= self.max_bytes, "the provider would refuse this request"
        self.requests.append(
            {"text": text, "voice": voice, "language_code": language_code, "rate": sample_rate_hz}
        )
        return make_wav(len(text) * 0.01, rate=sample_rate_hz)


def test_synthesize_narration_splits_joins_and_costs() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(300))  # ~8.3 kB
    synth = FakeSynth(max_bytes=5000)
    narration = V.synthesize_narration(
        text,
        synth=synth,
        voice="en-US-Neural2-J",
        language_code="en-US",
        sample_rate_hz=24000,
        max_bytes=5000,
        price_per_1k_chars=Decimal("0.016"),
    )
    assert narration.requests == len(synth.requests) == 2
    assert {(r["voice"], r["language_code"], r["rate"]) for r in synth.requests} == {
        ("en-US-Neural2-J", "en-US", 24000)
    }
    assert narration.chars == sum(len(r["text"]) for r in synth.requests)
    assert narration.cost_usd == (Decimal(narration.chars) * Decimal("0.016") / 1000).quantize(
        Decimal("0.000001")
    )
    assert narration.duration_s == pytest.approx(narration.chars * 0.01, abs=0.01)
    assert narration.voice == "en-US-Neural2-J"
    assert V.wav_duration_s(narration.wav) == pytest.approx(narration.duration_s)


def test_synthesize_narration_refuses_empty_text() -> None:
    with pytest.raises(ValueError):
        V.synthesize_narration(
            " \n ",
            synth=FakeSynth(5000),
            voice="v",
            language_code="en-US",
            sample_rate_hz=16000,
            max_bytes=5000,
            price_per_1k_chars=Decimal("0.004"),
        )


def test_price_for_voice_prices_unknown_voices_high() -> None:
    prices = {"en-US-Neural2-J": Decimal("0.016"), "en-US-Standard-J": Decimal("0.004")}
    assert V.price_for_voice("en-US-Standard-J", prices) == Decimal("0.004")
    assert V.price_for_voice("en-US-Studio-O", prices) == Decimal("0.016")

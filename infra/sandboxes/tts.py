"""Google Cloud Text-to-Speech sandbox (REST v1) that really speaks, with espeak-ng.

`POST /v1/text:synthesize` takes the body google-cloud-texttospeech's REST transport sends
(`{"input": {"text"|"ssml"}, "voice": {"languageCode", "name"}, "audioConfig": {"audioEncoding",
"sampleRateHertz", "speakingRate", "pitch", "volumeGainDb"}}`) and answers `{"audioContent": base64}`:
for LINEAR16, mono 16-bit PCM with a WAV header at the requested rate, as Google does. Other encodings,
input over 5,000 bytes, unknown voices and mismatched language codes get Google's 400 INVALID_ARGUMENT.
`GET /v1/voices?languageCode=` lists the voices. Each Google voice maps to an espeak-ng voice and variant
(male/female). Without espeak-ng on the machine, synthesis answers 500 saying so.
"""

from __future__ import annotations

import base64
import io
import shutil
import struct
import subprocess
import warnings
import wave
from typing import Any

from flask import Flask, Response, jsonify, request

from infra.sandboxes.base import empty_requested, google_error_body, make_sandbox_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib through 3.12; the project runs on 3.11

MAX_INPUT_BYTES = 5000
NATURAL_RATE_HZ = 24000
# espeak-ng's -s 140 comes out near 150 spoken words a minute with its pauses, like Google's voices
# and the scripts' duration estimate; it stands for speakingRate 1.0.
ESPEAK_WPM = 140

# (name, gender) per language; the letters and genders follow Google's catalogue.
_CATALOGUE: dict[str, list[tuple[str, str]]] = {
    "en-US": [
        *((f"en-US-Neural2-{x}", g) for x, g in zip("ACDEFGHIJ", "MFMFFFFMM", strict=True)),
        *((f"en-US-Standard-{x}", g) for x, g in zip("ABCDEFGHIJ", "MMFMFFFFMM", strict=True)),
        *((f"en-US-Wavenet-{x}", g) for x, g in zip("ABCDEFGHIJ", "MMFMFFFFMM", strict=True)),
    ],
    "en-GB": [
        *((f"en-GB-Neural2-{x}", g) for x, g in zip("ABCDF", "FMFMF", strict=True)),
        *((f"en-GB-Standard-{x}", g) for x, g in zip("ABCDF", "FMFMF", strict=True)),
    ],
}
_ESPEAK_LANGUAGE = {"en-US": "en-us", "en-GB": "en-gb"}
VOICES: dict[str, tuple[str, str]] = {
    name: (language, gender) for language, voices in _CATALOGUE.items() for name, gender in voices
}
_ENCODINGS = {
    0: "AUDIO_ENCODING_UNSPECIFIED",
    1: "LINEAR16",
    2: "MP3",
    3: "OGG_OPUS",
    5: "MULAW",
    6: "ALAW",
    7: "PCM",
    8: "M4A",
}


class SandboxError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _invalid(message: str) -> SandboxError:
    return SandboxError(400, message)


def espeak_voice(name: str) -> str:
    """The espeak-ng voice+variant that stands in for a Google voice: deterministic per name."""
    language, gender = VOICES[name]
    index = ord(name[-1]) % (5 if gender == "F" else 7) + 1
    return f"{_ESPEAK_LANGUAGE[language]}+{'f' if gender == 'F' else 'm'}{index}"


def _pcm_from_wav_stream(data: bytes) -> tuple[bytes, int]:
    """(16-bit mono PCM, rate) from espeak-ng's --stdout WAV, whose sizes are placeholders."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SandboxError(500, "espeak-ng did not produce a WAV stream")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            channels, rate, bits = (
                struct.unpack("<H", data[pos + 10 : pos + 12])[0],
                struct.unpack("<I", data[pos + 12 : pos + 16])[0],
                struct.unpack("<H", data[pos + 22 : pos + 24])[0],
            )
            if channels != 1 or bits != 16:
                raise SandboxError(500, f"espeak-ng produced {channels} channels of {bits} bits")
        elif chunk == b"data":
            return data[pos + 8 : pos + 8 + size], rate
        pos += 8 + size
    raise SandboxError(500, "espeak-ng's WAV stream has no data")


def synthesize_wav(
    text: str,
    *,
    ssml: bool,
    voice: str,
    sample_rate_hz: int,
    speaking_rate: float = 1.0,
    pitch: float = 0.0,
    volume_gain_db: float = 0.0,
    binary: str = "espeak-ng",
) -> bytes:
    path = shutil.which(binary)
    if path is None:
        raise SandboxError(
            500,
            f"The TTS sandbox speaks with espeak-ng, and '{binary}' is not installed on this machine "
            "(Debian/Ubuntu: apt-get install espeak-ng).",
        )
    args = [path, "-v", voice, "-s", str(round(min(450, max(80, ESPEAK_WPM * speaking_rate))))]
    args += ["-p", str(round(min(99, max(0, 50 + pitch * 2.5)))), "--stdout"]
    if ssml:
        args.append("-m")
    proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, timeout=120, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise SandboxError(500, f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
    pcm, rate = _pcm_from_wav_stream(proc.stdout)
    if rate != sample_rate_hz:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, sample_rate_hz, None)
    if volume_gain_db:
        pcm = audioop.mul(pcm, 2, 10 ** (volume_gain_db / 20))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate_hz)
        writer.writeframes(pcm)
    return out.getvalue()


def _number(config: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = config.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _invalid(f"Invalid value for audio_config.{key}: {value!r}")
    if value == 0 and key in ("speakingRate", "sampleRateHertz"):
        return default  # proto3: 0 means "not set"
    if not low <= value <= high:
        raise _invalid(f"audio_config.{key} must be in [{low:g}, {high:g}], not {value:g}.")
    return float(value)


def parse_synthesize(body: Any) -> dict[str, Any]:
    """Validate a synthesize body as Google does; returns the synthesis arguments."""
    if not isinstance(body, dict):
        raise _invalid("Invalid JSON payload received.")
    source = body.get("input") or {}
    if not isinstance(source, dict) or ("text" in source) == ("ssml" in source):
        raise _invalid("Exactly one of input.text or input.ssml must be set.")
    ssml = "ssml" in source
    text = source["ssml" if ssml else "text"]
    if not isinstance(text, str) or not text.strip():
        raise _invalid("Input text must not be empty.")
    if len(text.encode("utf-8")) > MAX_INPUT_BYTES:
        raise _invalid(
            f"Either `input.text` or `input.ssml` is longer than the limit of {MAX_INPUT_BYTES} bytes. "
            "This limit is different from quotas. To fix, reduce the byte length of the characters in "
            "this request."
        )
    voice = body.get("voice") or {}
    language = voice.get("languageCode") if isinstance(voice, dict) else None
    if not language:
        raise _invalid("Voice.language_code is required.")
    name = voice.get("name") or ""
    if name:
        if name not in VOICES:
            raise _invalid(f"Voice '{name}' does not exist. Is it misspelled?")
        if VOICES[name][0].lower() != language.lower():
            raise _invalid(
                f"Requested language code '{language}' doesn't match the voice '{name}''s language "
                f"code '{VOICES[name][0]}'! Either remove language code or use a matching voice."
            )
    else:
        matching = [n for n, (lang, _) in VOICES.items() if lang.lower() == language.lower()]
        if not matching:
            raise _invalid(f"Language code '{language}' is not supported by the sandbox.")
        name = matching[0]
    config = body.get("audioConfig") or {}
    if not isinstance(config, dict):
        raise _invalid("audioConfig must be an object.")
    encoding = config.get("audioEncoding", "AUDIO_ENCODING_UNSPECIFIED")
    encoding = _ENCODINGS.get(encoding, str(encoding)) if isinstance(encoding, int) else encoding
    if encoding == "AUDIO_ENCODING_UNSPECIFIED":
        raise _invalid("AudioConfig.audio_encoding is required.")
    if encoding != "LINEAR16":
        raise _invalid(f"Audio encoding {encoding} is not supported by the sandbox; use LINEAR16.")
    return {
        "text": text,
        "ssml": ssml,
        "voice": espeak_voice(name),
        "sample_rate_hz": int(_number(config, "sampleRateHertz", NATURAL_RATE_HZ, 8000, 48000)),
        "speaking_rate": _number(config, "speakingRate", 1.0, 0.25, 4.0),
        "pitch": _number(config, "pitch", 0.0, -20.0, 20.0),
        "volume_gain_db": _number(config, "volumeGainDb", 0.0, -96.0, 16.0),
    }


def _error(err: SandboxError) -> Response:
    resp = jsonify(google_error_body(err.status, "", err.message))
    resp.status_code = err.status
    return resp


def create_app(*, espeak_binary: str = "espeak-ng") -> Flask:
    app = make_sandbox_app("tts", error_body=google_error_body)

    @app.post("/v1/text:synthesize")
    def synthesize() -> Response:
        try:
            args = parse_synthesize(request.get_json(silent=True))
            wav = b"" if empty_requested() else synthesize_wav(**args, binary=espeak_binary)
        except SandboxError as err:
            return _error(err)
        return jsonify({"audioContent": base64.b64encode(wav).decode()})

    @app.get("/v1/voices")
    def list_voices() -> Response:
        language = (request.args.get("languageCode") or "").lower()
        voices = [
            {
                "languageCodes": [lang],
                "name": name,
                "ssmlGender": "FEMALE" if gender == "F" else "MALE",
                "naturalSampleRateHertz": NATURAL_RATE_HZ,
            }
            for name, (lang, gender) in VOICES.items()
            if not language or lang.lower().startswith(language)
        ]
        return jsonify({"voices": voices})

    return app

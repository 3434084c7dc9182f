"""Step `voice`: the narration spoken by Google Cloud TTS, split under the request byte limit, joined."""

from __future__ import annotations

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.voice import price_for_voice, synthesize_narration
from shared.steps import artefact_path, load_json, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    s = c.settings
    script = load_json(c.blobs, output(ctx.job, "script", "script_uri"))
    voice = s.tts_voice_primary
    narration = synthesize_narration(
        script["narration"],
        synth=c.speech,
        voice=voice,
        language_code=s.tts_language_code,
        sample_rate_hz=s.tts_sample_rate_hz,
        max_bytes=s.tts_max_request_bytes,
        price_per_1k_chars=price_for_voice(voice, s.tts_price_per_1k_chars_usd),
    )
    uri = c.blobs.put_bytes(artefact_path(ctx.job, "narration.wav"), narration.wav, "audio/wav")
    return StepOutput(
        outputs={
            "narration_uri": uri,
            "duration_s": round(narration.duration_s, 3),
            "chars": narration.chars,
            "requests": narration.requests,
            "voice": voice,
        },
        provider=f"google-tts:{voice}",
        cost_usd=narration.cost_usd,
    )

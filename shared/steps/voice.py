"""Step `voice`: the voice chain speaks the narration (ElevenLabs for premium jobs, Google Neural2-J,
Standard-J, cached segments, silence), split under each provider's request limit and joined."""

from __future__ import annotations

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.chain import ChainExhausted
from shared.content.voice_chain import SegmentCache, VoiceServices, narrate
from shared.steps import artefact_path, chain_failure, load_json, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    s = c.settings
    job = ctx.job
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    svc = VoiceServices(
        google=lambda: c.speech,
        elevenlabs=lambda: c.premium_speech,
        segments=SegmentCache(c.blobs, s.media_bucket, s.tts_cache_prefix),
        budgets=c.budgets,
        retry=c.retry,
        settings=s,
        job_id=job["job_id"],
    )
    request = job["request"]
    try:
        served = narrate(
            script["narration"], style=request["style"], premium=request["quality"] == "premium", svc=svc
        )
    except ChainExhausted as exc:
        raise chain_failure(exc) from None
    narration = served.value
    uri = c.blobs.put_bytes(artefact_path(job, "narration.wav"), narration.wav, "audio/wav")
    return StepOutput(
        outputs={
            "narration_uri": uri,
            "duration_s": round(narration.duration_s, 3),
            "chars": narration.chars,
            "requests": narration.requests,
            "cached_parts": narration.cached_parts,
            "voice": narration.voice,
            "fallbacks": served.fallback_dicts(),
        },
        provider=served.provider,
        cost_usd=narration.cost_usd,
    )

"""The shape of the video chain: which step follows which, and the fan-in before render.

script ─┬─► voice ─────┐
        ├─► media ─────┼─► render ─► quality ─► upload ─► publish ─► notify
        └─► thumbnail ─┘
"""

from __future__ import annotations

from shared.config import STEPS

FIRST_STEP = "script"
JOIN_STEP = "render"
JOIN_INPUTS: tuple[str, ...] = ("voice", "media", "thumbnail")

SUCCESSORS: dict[str, tuple[str, ...]] = {
    "script": JOIN_INPUTS,
    "voice": (JOIN_STEP,),
    "media": (JOIN_STEP,),
    "thumbnail": (JOIN_STEP,),
    "render": ("quality",),
    "quality": ("upload",),
    "upload": ("publish",),
    "publish": ("notify",),
    "notify": (),
}

assert set(SUCCESSORS) == set(STEPS)


def entry_point(step: str) -> str:
    """The Cloud Function that runs `step` (also the name Terraform deploys it under)."""
    return f"step_{step}"


def queue_id(queue_prefix: str, step: str) -> str:
    """The Cloud Tasks queue of `step`: one queue per step, each with its own rate limit and retries."""
    return f"{queue_prefix}-{step}"


def predecessors(step: str) -> tuple[str, ...]:
    return tuple(s for s, nexts in SUCCESSORS.items() if step in nexts)

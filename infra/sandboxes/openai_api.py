"""OpenAI API sandbox: chat completions that write a plausible, deterministic YouTube script for the topic
and duration found in the prompt; image generations (PNG made with Pillow); the model list.

Wire shapes follow the OpenAI REST API: `POST /v1/chat/completions`, `POST /v1/images/generations`,
`GET /v1/models`, `Authorization: Bearer <key>` (any non-empty key), errors as
`{"error": {"message", "type", "param", "code"}}`. Faults come from the shared control surface, e.g.
`{"match": "POST /v1/chat/completions", "status": 429, "reason": "rate_limit_exceeded", "retry_after_s": 1}`;
`"reason": "insufficient_quota"` gives OpenAI's billing 429 (not worth retrying).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import random
import re
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from PIL import Image, ImageDraw

from infra.sandboxes.base import empty_requested, make_sandbox_app

CREATED = 1_700_000_000  # a fixed "created" for models, so listings are stable

CHAT_MODELS = (
    "gpt-4",
    "gpt-4-turbo",
    "gpt-4-turbo-preview",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-16k",
)
IMAGE_SIZES = {
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "gpt-image-1": {"1024x1024", "1536x1024", "1024x1536", "auto"},
}


def openai_error_body(status: int, reason: str, message: str) -> dict[str, Any]:
    """OpenAI's error shape; `reason` becomes `code`."""
    if status == 429:
        kind = "insufficient_quota" if reason == "insufficient_quota" else "requests"
        message = message or (
            "You exceeded your current quota, please check your plan and billing details."
            if reason == "insufficient_quota"
            else "Rate limit reached for requests. Please try again in 1s."
        )
        code = reason or "rate_limit_exceeded"
    elif status >= 500:
        kind, code = "server_error", reason or None
        message = message or "The server had an error while processing your request. Sorry about that!"
    else:
        kind, code = "invalid_request_error", reason or None
        message = message or reason or "Invalid request."
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> Response:
    body = openai_error_body(status, code or "", message)
    body["error"]["param"] = param
    body["error"]["code"] = code
    resp = jsonify(body)
    resp.status_code = status
    return resp


# --- The script writer -----------------------------------------------------------------------------------
def tokens_for(text: str) -> int:
    """About 4 tokens per 3 English words."""
    return math.ceil(len(text.split()) * 4 / 3)


def parse_request(prompt: str) -> tuple[str, int]:
    """(topic, duration_s) from the seed's prompt ("Topic: ...", "Duration: 60 seconds")."""
    topic_match = re.search(r"^\s*Topic:\s*(.+?)\s*$", prompt, re.MULTILINE | re.IGNORECASE)
    topic = topic_match.group(1) if topic_match else ""
    if not topic:
        title = re.search(r"^\s*TITLE:\s*(.+?)\s*$", prompt, re.MULTILINE)
        topic = title.group(1) if title else "this topic"
    duration_s = 60
    dur = re.search(r"Duration:\s*~?\s*(\d+(?:\.\d+)?)\s*(seconds?|secs?|s\b|minutes?|mins?)", prompt, re.I)
    if dur:
        value = float(dur.group(1))
        duration_s = round(value * 60) if dur.group(2).lower().startswith("m") else round(value)
    return topic, max(5, duration_s)


_ANGLES = (
    "Why {topic} matters more than you think",
    "The biggest mistake people make with {topic}",
    "A simple way to get started",
    "What the experts actually do",
    "How to keep getting better",
)
_HOOKS = (
    "What if everything you knew about {topic} was only half the story?",
    "Most people get {topic} wrong, and it costs them every single day.",
    "Here is the one thing about {topic} nobody told you.",
)
_INTROS = (
    "In the next few minutes you will learn the ideas that make {topic} click, with real examples.",
    "Stick around, because by the end of this video {topic} will feel simple and practical.",
)
_POINT_SENTENCES = (
    "Think about the last time {topic} came up in your own life.",
    "The research is surprisingly clear on this, and it changes how you approach {kw}.",
    "Here is a quick example that shows exactly how it works in practice.",
    "A friend of mine tried this for a month and the difference was obvious.",
    "The trick is to start small and stay consistent.",
    "Most beginners skip this step, which is why they never see results.",
    "If you remember only one thing today, make it this.",
    "It sounds obvious, but almost nobody does it properly.",
    "Try it this week and notice what changes.",
    "That is the part that turns a good result into a great one.",
)
_VISUALS = (
    "close-up of {kw} in action",
    "b-roll of people enjoying {kw}",
    "animated text: {heading}",
    "wide shot of a {kw} workspace",
    "slow motion {kw} detail",
)
_CTA = (
    "If you are finding this useful, hit subscribe and turn on the notification bell "
    "so you never miss a video."
)
_CONCLUSIONS = (
    "So that is {topic} in a nutshell: start with the basics, avoid the common mistakes, and keep improving.",
    "Leave a comment below with your own tips, and check out the next video on the screen.",
    "Thanks for watching, and I will see you in the next one.",
)


def _keyword(topic: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", topic) if len(w) > 3]
    return (" ".join(words[-2:]) if words else topic).lower()


def write_script(topic: str, duration_s: int, *, words_per_minute: int, seed: str) -> str:
    """A script of about `duration_s * words_per_minute / 60` spoken words, in the prompt's format."""
    rng = random.Random(hashlib.sha256(seed.encode()).hexdigest())
    kw = _keyword(topic)
    target = max(20, round(duration_s * words_per_minute / 60))
    n_points = 3 if duration_s <= 90 else 4 if duration_s <= 300 else 5
    angles = list(_ANGLES)
    rng.shuffle(angles)
    headings = [a.format(topic=topic) for a in angles[:n_points]]

    def fill(s: str) -> str:
        return s.format(topic=topic, kw=kw)

    hook = fill(rng.choice(_HOOKS))
    intro = fill(rng.choice(_INTROS))
    conclusion = [fill(_CONCLUSIONS[0]), fill(_CONCLUSIONS[2])]
    fixed = (
        len(hook.split()) + len(intro.split()) + len(_CTA.split()) + sum(len(c.split()) for c in conclusion)
    )
    budget = max(n_points * 8, target - fixed)
    bodies: list[list[str]] = [[] for _ in range(n_points)]
    bank = list(_POINT_SENTENCES)
    rng.shuffle(bank)
    used, i = 0, 0
    while used < budget:
        sentence = fill(bank[i % len(bank)])
        bodies[i % n_points].append(sentence)
        used += len(sentence.split())
        i += 1

    subtitle = rng.choice(("What Nobody Tells You", "The Complete Guide", "Explained Simply"))
    lines = [f"TITLE: {topic[:1].upper()}{topic[1:]}: {subtitle}", ""]
    lines += ["HOOK:", f"[VISUAL: {fill(_VISUALS[0])}]", f"{hook} [PAUSE]", ""]
    lines += ["INTRO:", intro, ""]
    for n, (heading, body) in enumerate(zip(headings, bodies, strict=True), start=1):
        visual = _VISUALS[(n + rng.randrange(len(_VISUALS))) % len(_VISUALS)]
        lines += [f"POINT {n}: {heading}", f"[VISUAL: {visual.format(kw=kw, heading=heading)}]"]
        lines += [" ".join(body), ""]
        if n == 1 and n_points > 1:
            lines += ["CALL TO ACTION:", "[VISUAL: subscribe button animation]", _CTA, ""]
    if n_points == 1:
        lines += ["CALL TO ACTION:", _CTA, ""]
    lines += ["CONCLUSION:", "[VISUAL: end screen with two suggested videos]", " ".join(conclusion)]
    return "\n".join(lines)


def improve(prompt: str, *, words_per_minute: int, seed: str) -> str:
    """An "improved" script: a fresh one for the same topic and duration, with a stronger hook."""
    topic, duration_s = parse_request(prompt)
    script = write_script(topic, duration_s, words_per_minute=words_per_minute, seed=seed)
    return script.replace("HOOK:\n", "HOOK:\nStop scrolling for a second. ", 1)


# --- Images ----------------------------------------------------------------------------------------------
def make_png(width: int, height: int, text: str) -> bytes:
    digest = hashlib.sha256(text.encode()).digest()
    top, bottom = digest[0:3], digest[3:6]
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(
        Image.new("RGB", (width, height), tuple(bottom)),
        Image.new("RGB", (width, height), tuple(top)),
        gradient,
    )
    draw = ImageDraw.Draw(image)
    for i in range(4):
        r = (digest[6 + i] % 20 + 5) * min(width, height) // 100
        cx, cy = digest[10 + i] * width // 256, digest[14 + i] * height // 256
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 255, 255), width=max(2, r // 10))
    draw.text((width // 20, height // 2), text[:60], fill=(255, 255, 255), font_size=max(16, height // 16))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def create_app(*, words_per_minute: int = 150) -> Flask:
    app = make_sandbox_app("openai", error_body=openai_error_body)
    images: dict[str, bytes] = {}
    lock = threading.Lock()

    @app.before_request
    def _authenticate() -> Response | None:
        if not request.path.startswith("/v1/"):
            return None
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        return None

    @app.get("/v1/models")
    def list_models() -> Response:
        names = [*CHAT_MODELS, *IMAGE_SIZES]
        return jsonify(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": CREATED, "owned_by": "system"} for m in names
                ],
            }
        )

    @app.get("/v1/models/<model>")
    def get_model(model: str) -> Response:
        if model not in CHAT_MODELS and model not in IMAGE_SIZES:
            return _error(404, f"The model '{model}' does not exist", code="model_not_found", param="model")
        return jsonify({"id": model, "object": "model", "created": CREATED, "owned_by": "system"})

    @app.post("/v1/chat/completions")
    def chat_completions() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "you must provide a model parameter", param="model")
        if model not in CHAT_MODELS:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return _error(400, "'messages' must be a non-empty array of message objects", param="messages")
        if body.get("stream"):
            return _error(400, "The sandbox does not stream; call without stream=true.", param="stream")
        user = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
        prompt_text = "\n".join(str(m.get("content") or "") for m in messages)
        seed = f"{model}\n{prompt_text}"
        if "Original Script:" in user:
            content = improve(user, words_per_minute=words_per_minute, seed=seed)
        else:
            topic, duration_s = parse_request(user)
            content = write_script(topic, duration_s, words_per_minute=words_per_minute, seed=seed)
        finish_reason = "stop"
        if empty_requested():
            content, finish_reason = "", "content_filter"
        completion_tokens = tokens_for(content)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and limit > 0 and completion_tokens > limit:
            content = " ".join(content.split(" ")[: limit * 3 // 4])
            completion_tokens, finish_reason = limit, "length"
        prompt_tokens = sum(tokens_for(str(m.get("content") or "")) + 4 for m in messages) + 3
        completion_id = "chatcmpl-" + hashlib.sha256(f"{seed}{time.time_ns()}".encode()).hexdigest()[:29]
        resp = jsonify(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_sandbox",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )
        resp.headers["x-request-id"] = "req_" + completion_id[-24:]
        return resp

    @app.post("/v1/images/generations")
    def images_generations() -> Response:
        body = request.get_json(silent=True)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("prompt"), str)
            or not body["prompt"].strip()
        ):
            return _error(400, "'prompt' is a required property", param="prompt")
        model = body.get("model") or "dall-e-2"
        if model not in IMAGE_SIZES:
            return _error(404, f"The model `{model}` does not exist.", code="model_not_found", param="model")
        size = body.get("size") or "1024x1024"
        if size not in IMAGE_SIZES[model]:
            allowed = ", ".join(f"'{s}'" for s in sorted(IMAGE_SIZES[model]))
            return _error(400, f"'{size}' is not one of [{allowed}] - 'size'", param="size")
        n = body.get("n") or 1
        if not isinstance(n, int) or n < 1 or n > 10 or (model == "dall-e-3" and n != 1):
            return _error(400, f"Invalid 'n' for {model}: {n}", param="n")
        # dall-e models answer with a URL unless asked for b64_json; gpt-image models only with b64_json.
        default_format = "b64_json" if model.startswith("gpt-image") else "url"
        response_format = body.get("response_format") or default_format
        if response_format not in ("url", "b64_json") or (
            model.startswith("gpt-image") and "response_format" in body
        ):
            return _error(400, f"Invalid response_format for {model}", param="response_format")
        width, height = (1024, 1024) if size == "auto" else (int(v) for v in size.split("x"))
        data = []
        for i in range(0 if empty_requested() else n):
            png = make_png(width, height, f"{body['prompt']} #{i}")
            if response_format == "b64_json":
                data.append({"b64_json": base64.b64encode(png).decode(), "revised_prompt": body["prompt"]})
            else:
                image_id = hashlib.sha256(png).hexdigest()[:24]
                with lock:
                    images[image_id] = png
                    while len(images) > 64:
                        images.pop(next(iter(images)))
                data.append(
                    {
                        "url": f"{request.host_url}_media/images/{image_id}.png",
                        "revised_prompt": body["prompt"],
                    }
                )
        return jsonify({"created": int(time.time()), "data": data})

    @app.get("/_media/images/<image_id>.png")
    def image_file(image_id: str) -> Response:
        with lock:
            png = images.get(image_id)
        if png is None:
            return Response("not found", 404, mimetype="text/plain")
        return Response(png, 200, mimetype="image/png")

    return app

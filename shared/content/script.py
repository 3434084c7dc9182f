"""Video scripts: the seed's prompt and prompt optimiser, post-processing for TTS, what is spoken and
what is shown, YouTube metadata, duration estimate and LLM cost. Pure functions over the ChatModel port."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from shared.config import Settings
from shared.ports import ChatModel, ChatResult, ProviderError, usd

QUALITIES = ("economy", "standard", "premium")

# YouTube's limits on metadata (Data API v3, videos resource).
TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_TOTAL_CHARS = 500
TAGS_MAX_COUNT = 15


@dataclass(frozen=True)
class ScriptRequest:
    topic: str
    style: str = "educational"
    duration_s: int = 60
    quality: str = "standard"  # "premium" → settings.script_model_premium, anything else → economy

    def __post_init__(self) -> None:
        if not self.topic.strip():
            raise ValueError("topic must not be empty")
        if self.duration_s <= 0:
            raise ValueError("duration_s must be positive")
        if self.quality not in QUALITIES:
            raise ValueError(f"quality must be one of {QUALITIES}, not {self.quality!r}")


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@dataclass(frozen=True)
class Script:
    title: str
    description: str
    tags: list[str]
    text: str  # post-processed script, cues and section labels included
    narration: str  # what is spoken
    visual_cues: list[str]
    word_count: int  # words of narration
    estimated_duration_s: int
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    headings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (Firestore-able) form; money as a string."""
        data = asdict(self)
        data["cost_usd"] = str(self.cost_usd)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Script:
        return cls(**{**data, "cost_usd": Decimal(str(data["cost_usd"]))})


# --- The prompt ------------------------------------------------------------------------------------------
SYSTEM_PROMPT = (
    "You are an expert YouTube scriptwriter who creates engaging, retention-optimized scripts. "
    "Your scripts hook viewers in the first 5 seconds, maintain engagement throughout, and drive action."
)

# The seed's user prompt, plus a target word count and an output format the post-processing can parse.
# Placeholders are filled after optimisation so the optimiser never rewrites what the customer typed.
_USER_TEMPLATE = """Create a YouTube video script with these specifications:

Topic: {topic}
Style: {style}
Duration: {duration_s} seconds (approximately {minutes} minutes)
Length: approximately {words} words of narration

Structure Requirements:
1. HOOK (0-5 seconds): Compelling question or statement
2. INTRO (5-15 seconds): What viewer will learn/gain
3. MAIN CONTENT:
   - 3-5 key points
   - Examples and stories
   - Visual cues for editing
4. CALL TO ACTION: Subscribe reminder mid-video
5. CONCLUSION: Summary and end screen setup

Tone: Conversational, energetic, authentic
Pace: Dynamic with variation

Include:
- [VISUAL: description] tags for suggested visuals
- [PAUSE] for dramatic effect
- Natural speech patterns

Format: first a line "TITLE: <video title>", then each section starting on its own line with its label:
HOOK:, INTRO:, POINT 1: <heading>, POINT 2: <heading>, ..., CALL TO ACTION:, CONCLUSION:"""

IMPROVE_SYSTEM_PROMPT = "You are an expert script editor."

_IMPROVE_TEMPLATE = """Improve this YouTube script based on the feedback:
{context}
Original Script:
{script}

Feedback:
{feedback}

Maintain the same structure and duration, but address the feedback points.
Keep the TITLE line, the section labels and the [VISUAL: ...] cues."""

# The seed's PromptOptimizer: (pattern, replacement) pairs, filler first, then compression.
# Its literal ('between X and Y', 'X-Y') is done as the regex it was meant to be.
_PROMPT_OPTIMIZATIONS: tuple[tuple[str, str], ...] = (
    (r"\bPlease\s+", ""),
    (r"\bCould you\s+", ""),
    (r"\bI would like\s+", ""),
    (r"Create a YouTube video script", "YouTube script"),
    (r"\bapproximately\s*", "~"),
    (r"\bbetween (\S+) and (\S+)", r"\1-\2"),
)


def optimize_prompt(prompt: str) -> str:
    """Reduce token usage without quality loss (the seed's PromptOptimizer)."""
    for pattern, replacement in _PROMPT_OPTIMIZATIONS:
        prompt = re.sub(pattern, replacement, prompt)
    return prompt


def _one_line(value: str) -> str:
    return " ".join(value.split())


def build_script_prompt(req: ScriptRequest, *, words_per_minute: int, compress: bool = True) -> Prompt:
    template = optimize_prompt(_USER_TEMPLATE) if compress else _USER_TEMPLATE
    user = template.format(
        topic=_one_line(req.topic),
        style=_one_line(req.style),
        duration_s=req.duration_s,
        minutes=f"{req.duration_s / 60:.3g}",
        words=target_word_count(req.duration_s, words_per_minute),
    )
    return Prompt(system=SYSTEM_PROMPT, user=user)


def improve_script_prompt(script: str, feedback: str, *, topic: str = "", duration_s: int = 0) -> Prompt:
    """The seed's improve_script prompt; topic and duration, when known, keep the rewrite on target."""
    context = ""
    if topic:
        context += f"Topic: {_one_line(topic)}\n"
    if duration_s:
        context += f"Duration: {duration_s} seconds\n"
    user = _IMPROVE_TEMPLATE.format(
        context=("\n" + context) if context else "", script=script.strip(), feedback=feedback.strip()
    )
    return Prompt(system=IMPROVE_SYSTEM_PROMPT, user=user)


def target_word_count(duration_s: int, words_per_minute: int) -> int:
    return max(1, round(duration_s * words_per_minute / 60))


def model_for(quality: str, settings: Settings) -> tuple[str, int]:
    """(model, max_tokens) for a quality tier; the fallback chain and budgets come later."""
    if quality == "premium":
        return settings.script_model_premium, settings.script_max_tokens_premium
    return settings.script_model_economy, settings.script_max_tokens_economy


# --- Post-processing -------------------------------------------------------------------------------------
_BRACKET = re.compile(r"\[([^\[\]\n]*)\]")
_PAREN_CUE = re.compile(
    r"\((?:visual|b-?roll|shot|footage|on[- ]screen)\s*[:\-\u2013—]\s*([^()\n]+)\)", re.IGNORECASE
)
_VISUAL_PREFIX = re.compile(
    r"^(?:visuals?|b-?roll|shot|image|footage|on[- ]screen(?:\s+text)?|graphics?|cut\s+to|scene)"
    r"\s*[:\-\u2013—]\s*(?P<desc>.+)$",
    re.IGNORECASE,
)
_PAUSE = re.compile(r"^(?:dramatic\s+)?(?:pause|beat)\b.*$", re.IGNORECASE)
_SOUND = re.compile(
    r"^(?:music|sfx|sound(?:\s+effect)?s?|audio)\b\s*[:\-\u2013—]?\s*(?P<desc>.*)$", re.IGNORECASE
)
_LABEL_WORDS = (
    r"hook|intro(?:duction)?|main\s+content|(?:key\s+)?point\s*#?\s*\d+|"
    r"call[\s-]+to[\s-]+action|cta|conclusion|outro|title"
)
_LABEL_LINE = re.compile(
    rf"^[\s#>*_]*\[?[\s*_]*(?P<label>{_LABEL_WORDS})[\s*_]*(?:\([^)\n]*\))?[\s*_]*"
    r"(?P<sep>:|\]|[-\u2013—.](?=\s|$)|$)(?P<rest>.*)$",
    re.IGNORECASE,
)
_SPEAKER = re.compile(r"^\s*(?:narrator|host|voice-?over|vo)\s*:\s*", re.IGNORECASE)
_VISUAL_CUE = re.compile(r"\[VISUAL:\s*([^\]]+?)\s*\]")


def _standardize_bracket(match: re.Match[str]) -> str:
    content = match.group(1).strip()
    if not content:
        return ""
    if _LABEL_LINE.match(content):
        return match.group(0)  # a bracketed section label stays a label, not a visual
    if _PAUSE.match(content):
        return "[PAUSE]"
    sound = _SOUND.match(content)
    if sound:
        return f"[SOUND: {sound.group('desc')}]" if sound.group("desc") else "[SOUND]"
    visual = _VISUAL_PREFIX.match(content)
    if visual:
        return f"[VISUAL: {visual.group('desc').strip()}]"
    if re.fullmatch(r"visuals?", content, re.IGNORECASE):
        return ""  # a cue without a description says nothing
    return f"[VISUAL: {content}]"


def prepare_script(text: str) -> str:
    """Post-process a model's script for TTS and editing (the seed's _process_script, done right).

    Ellipses become spaces and repeated !/? collapse (as the seed does); every cue ends up as exactly one
    of `[VISUAL: ...]`, `[PAUSE]` or `[SOUND: ...]` — an existing `[VISUAL: x]` stays as it is, where the
    seed's regex made it `[VISUAL: VISUAL: x]` and turned `[PAUSE]` into a visual. Idempotent.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("...", " ").replace("…", " ")
    text = re.sub(r"[ \t]+([?!,;:])", r"\1", text)  # "terrible...?" must not become "terrible ?"
    text = re.sub(r"!{2,}", "!", text)
    text = re.sub(r"\?{2,}", "?", text)
    text = _PAREN_CUE.sub(lambda m: f"[VISUAL: {m.group(1).strip()}]", text)
    text = _BRACKET.sub(_standardize_bracket, text)
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _clean_label_rest(rest: str) -> str:
    rest = re.sub(r"^[\s:\]\-\u2013—.*_]+", "", rest)
    return re.sub(r"[\s*_\]]+$", "", rest).strip()


def _classify(line: str) -> list[tuple[str, str]]:
    """[('title' | 'heading' | 'text', content), ...] for one line of a prepared script."""
    label = _LABEL_LINE.match(line)
    if not label:
        return [("text", line)]
    word = label.group("label").lower()
    rest = label.group("rest")
    bracketed = line.lstrip(" #>*_").startswith("[")
    if bracketed and label.group("sep") == "]":
        inner, outer = "", rest
    elif bracketed and "]" in rest:
        inner, outer = rest.split("]", 1)
    else:
        inner, outer = rest, ""
    inner, outer = _clean_label_rest(inner), _clean_label_rest(outer)
    if word == "title":
        return [("title", (inner or outer).strip("\"'“”"))]
    if "point" in word:
        # "POINT 2: Grind size" names the point; a long remainder is the point itself, spoken.
        if bracketed or len(inner.split()) <= 10:
            return [("heading", inner), ("text", outer)]
        return [("text", inner), ("text", outer)]
    return [("text", inner), ("text", outer)]


def _spoken(line: str) -> str:
    line = _BRACKET.sub(" ", line)
    line = _SPEAKER.sub("", line)
    line = re.sub(r"^\s*(?:#+|>|[-*•])\s+", "", line)
    line = line.replace("**", "").replace("__", "").replace("*", "").replace("#", "")
    line = " ".join(line.split())
    if line and line[-1].isalnum():
        line += "."  # a line without an end mark would run into the next one when spoken
    return line


def narration_text(script: str) -> str:
    """What is spoken: no cues, no section labels or point headings, no title, no markdown."""
    paragraphs = []
    for line in prepare_script(script).split("\n"):
        for kind, content in _classify(line):
            if kind != "text":
                continue
            spoken = _spoken(content)
            if any(ch.isalnum() for ch in spoken):
                paragraphs.append(spoken)
    return "\n\n".join(paragraphs)


def visual_cues(script: str) -> list[str]:
    """The `[VISUAL: ...]` descriptions, in script order."""
    return [m.group(1) for m in _VISUAL_CUE.finditer(prepare_script(script))]


def script_title_line(script: str) -> str:
    for line in prepare_script(script).split("\n"):
        for kind, content in _classify(line):
            if kind == "title" and content:
                return content
    return ""


def point_headings(script: str) -> list[str]:
    out = []
    for line in prepare_script(script).split("\n"):
        for kind, content in _classify(line):
            if kind == "heading" and content:
                out.append(_spoken(content).rstrip("."))
    return out


# --- Metadata --------------------------------------------------------------------------------------------
_STOPWORD_TEXT = """
a an and are as at be but by can do does for from how i if in into is it its of on or our so than that the
their then there these this to was what when where which who why will with you your vs about after before
best more most not only out over should them they up we get got just
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _clean_metadata(value: str) -> str:
    # YouTube rejects titles, descriptions and tags containing angle brackets.
    return value.replace("<", "").replace(">", "")


def _truncate_words(value: str, max_chars: int) -> str:
    if len(value) <= max_chars:
        return value
    cut = value[: max_chars + 1].rsplit(" ", 1)[0].rstrip(" ,;:-\u2013—")
    return cut if cut else value[:max_chars]


def derive_title(script: str, topic: str) -> str:
    title = script_title_line(script).replace("*", "").strip()
    if not title:
        words = _one_line(topic)
        title = words[:1].upper() + words[1:]
    return _truncate_words(_clean_metadata(_one_line(title)), TITLE_MAX_CHARS)


def keywords(text: str) -> list[str]:
    """Content words of `text`, lower-case, in order of first appearance."""
    seen: dict[str, None] = {}
    for word in re.findall(r"[^\W_][\w'\u2019-]*", text.lower()):
        word = word.strip("'\u2019-")
        if len(word) > 2 and word not in _STOPWORDS and not word.isdigit():
            seen.setdefault(word, None)
    return list(seen)


def _tag_cost(tag: str) -> int:
    # YouTube counts a tag with a space as quoted, and a comma between tags.
    return len(tag) + (2 if " " in tag else 0) + 1


def derive_tags(topic: str, style: str, narration: str = "") -> list[str]:
    """The topic, its phrases and words, the style, then words the narration keeps coming back to;
    within YouTube's 500-character budget."""
    topic_words = keywords(topic)
    phrase = _one_line(topic).lower()
    candidates = [phrase, *(" ".join(pair) for pair in pairwise(topic_words)), *topic_words]
    candidates += [f"{phrase} tips", f"{phrase} explained", _one_line(style).lower()]
    words = re.findall(r"[^\W\d_][\w'-]*", narration.lower())
    counts = Counter(w for w in words if len(w) > 3 and w not in _STOPWORDS)
    candidates += [w for w, n in counts.most_common() if n >= 3]
    tags: list[str] = []
    total = 0
    for raw in candidates:
        tag = _clean_metadata(raw.replace(",", " ")).strip()
        tag = _truncate_words(" ".join(tag.split()), 100)
        if not tag or tag in tags:
            continue
        if total + _tag_cost(tag) > TAGS_MAX_TOTAL_CHARS or len(tags) >= TAGS_MAX_COUNT:
            break
        tags.append(tag)
        total += _tag_cost(tag)
    return tags


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]


def derive_description(narration: str, headings: list[str], tags: list[str]) -> str:
    parts = [" ".join(_sentences(narration)[:2])]
    if headings:
        parts.append("In this video:\n" + "\n".join(f"• {h}" for h in headings))
    hashtags = [f"#{t}" for t in tags if " " not in t and "-" not in t][:3]
    if hashtags:
        parts.append(" ".join(hashtags))
    description = _clean_metadata("\n\n".join(p for p in parts if p))
    encoded = description.encode("utf-8")
    if len(encoded) > DESCRIPTION_MAX_BYTES:
        description = encoded[:DESCRIPTION_MAX_BYTES].decode("utf-8", errors="ignore")
    return description


# --- Duration and cost -----------------------------------------------------------------------------------
def word_count(text: str) -> int:
    return len(text.split())


def estimate_duration_s(narration: str, words_per_minute: int) -> int:
    """Speaking time at `words_per_minute` (seed: 150)."""
    return round(word_count(narration) * 60 / words_per_minute)


def price_per_1k_tokens(model: str, prices: dict[str, Decimal]) -> Decimal:
    """Exact model, else the longest priced prefix ("gpt-4-0613" → "gpt-4"), else the highest price:
    an unknown model is costed high rather than free, so budgets never under-count."""
    if not prices:
        raise ValueError("no LLM prices configured")
    if model in prices:
        return Decimal(prices[model])
    prefixes = [name for name in prices if model.startswith(name)]
    if prefixes:
        return Decimal(prices[max(prefixes, key=len)])
    return max(Decimal(p) for p in prices.values())


def chat_cost_usd(
    model: str, prompt_tokens: int, completion_tokens: int, prices: dict[str, Decimal]
) -> Decimal:
    return usd(Decimal(prompt_tokens + completion_tokens) * price_per_1k_tokens(model, prices) / 1000)


# --- The step's work -------------------------------------------------------------------------------------
def script_from_completion(result: ChatResult, *, req: ScriptRequest, settings: Settings) -> Script:
    text = prepare_script(result.text)
    narration = narration_text(text)
    if not narration:
        raise ProviderError(
            f"model {result.model} returned a script with nothing to say",
            transient=True,
            provider="script",
            reason="empty_script",
        )
    headings = point_headings(text)
    tags = derive_tags(req.topic, req.style, narration)
    return Script(
        title=derive_title(text, req.topic),
        description=derive_description(narration, headings, tags),
        tags=tags,
        text=text,
        narration=narration,
        visual_cues=visual_cues(text),
        word_count=word_count(narration),
        estimated_duration_s=estimate_duration_s(narration, settings.words_per_minute),
        model=result.model,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_usd=chat_cost_usd(
            result.model,
            result.prompt_tokens,
            result.completion_tokens,
            settings.openai_price_per_1k_tokens_usd,
        ),
        headings=headings,
    )


def _complete_script(
    prompt: Prompt, quality: str, *, req: ScriptRequest, chat: ChatModel, settings: Settings
) -> Script:
    model, max_tokens = model_for(quality, settings)
    result = chat.complete(
        model=model,
        system=prompt.system,
        user=prompt.user,
        temperature=settings.script_temperature,
        max_tokens=max_tokens,
    )
    return script_from_completion(result, req=req, settings=settings)


def write_script(req: ScriptRequest, *, chat: ChatModel, settings: Settings) -> Script:
    prompt = build_script_prompt(
        req, words_per_minute=settings.words_per_minute, compress=settings.script_prompt_compression
    )
    return _complete_script(prompt, req.quality, req=req, chat=chat, settings=settings)


def improve_script(
    script: Script, feedback: str, *, req: ScriptRequest, chat: ChatModel, settings: Settings
) -> Script:
    """One rewrite with the quality step's feedback, on the economy model as the seed does."""
    prompt = improve_script_prompt(script.text, feedback, topic=req.topic, duration_s=req.duration_s)
    return _complete_script(prompt, "economy", req=req, chat=chat, settings=settings)

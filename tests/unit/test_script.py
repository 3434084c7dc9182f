"""Script domain: the prompt, its optimiser, post-processing for TTS, narration/cues, metadata, cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.config import Settings
from shared.content import script as S
from shared.content.script import Script, ScriptRequest
from shared.ports import ChatResult, ProviderError

# A script the way chat models really write them: markdown, timings, bracket variants, a speaker label.
MESSY_SCRIPT = """\
TITLE: "5 Coffee Mistakes You Make Every Morning"

**HOOK (0-5 seconds):**
[Close-up of a steaming mug]
Is your morning coffee secretly terrible...? [PAUSE]

**INTRO (5-15 seconds):**
[visual - barista pouring milk]
Narrator: Today you'll learn three fixes!!

## POINT 1: Grind size
[B-ROLL: coffee grinder in action]
Most people grind too fine. It makes the cup bitter.

**Point 2 - Water temperature**
(Visual: kettle with thermometer)
Boiling water burns the beans. Aim for ninety-three degrees

[POINT 3: Fresh beans] Buy whole beans and use them within a month.

CALL TO ACTION:
[VISUAL: subscribe button animation]
Hit subscribe for more coffee tips.

[MUSIC: upbeat outro]
CONCLUSION: Grind right, heat right, buy fresh. See you next time.
[VISUAL]
"""


class FakeChat:
    """Records calls; answers with a canned script."""

    def __init__(
        self, text: str = MESSY_SCRIPT, *, model: str | None = None, tokens: tuple[int, int] = (500, 700)
    ):
        self.text = text
        self.model = model
        self.tokens = tokens
        self.calls: list[dict] = []

    def complete(
        self, *, model: str, system: str, user: str, temperature: float, max_tokens: int
    ) -> ChatResult:
        self.calls.append(
            {
                "model": model,
                "system": system,
                "user": user,
                "temperature": temperature,
                "max_tokens": max_tokens,
            }
        )
        return ChatResult(
            text=self.text,
            model=self.model or model,
            prompt_tokens=self.tokens[0],
            completion_tokens=self.tokens[1],
        )


@pytest.fixture
def settings() -> Settings:
    return Settings()


# --- prompt ----------------------------------------------------------------------------------------------
def test_prompt_carries_the_seed_structure_and_the_request() -> None:
    req = ScriptRequest(topic="home espresso", style="energetic", duration_s=90)
    prompt = S.build_script_prompt(req, words_per_minute=150, compress=False)
    assert prompt.system == S.SYSTEM_PROMPT and "hook viewers in the first 5 seconds" in prompt.system
    for needle in (
        "Topic: home espresso",
        "Style: energetic",
        "Duration: 90 seconds (approximately 1.5 minutes)",
        "approximately 225 words",
        "HOOK (0-5 seconds)",
        "INTRO (5-15 seconds)",
        "3-5 key points",
        "CALL TO ACTION",
        "CONCLUSION",
        "[VISUAL: description]",
        "[PAUSE]",
        "TITLE:",
    ):
        assert needle in prompt.user


def test_compression_applies_the_optimiser_to_the_template_only() -> None:
    req = ScriptRequest(topic="Please explain approximately everything", duration_s=60)
    compressed = S.build_script_prompt(req, words_per_minute=150, compress=True).user
    plain = S.build_script_prompt(req, words_per_minute=150, compress=False).user
    assert compressed.startswith("YouTube script with these specifications")
    assert "~150 words" in compressed and "approximately 150 words" not in compressed
    assert "Topic: Please explain approximately everything" in compressed  # the customer's words stay
    assert len(compressed) < len(plain)


def test_short_durations_are_not_zero_minutes() -> None:
    # The seed wrote `duration // 60` minutes, which says "0 minutes" for a 30-second video.
    prompt = S.build_script_prompt(
        ScriptRequest(topic="t", duration_s=30), words_per_minute=150, compress=False
    )
    assert "approximately 0.5 minutes" in prompt.user


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Please write a script", "write a script"),
        ("Could you write a script", "write a script"),
        ("I would like a script", "a script"),
        ("Create a YouTube video script about cats", "YouTube script about cats"),
        ("approximately 60 seconds", "~60 seconds"),
        ("between 3 and 5 points", "3-5 points"),
    ],
)
def test_prompt_optimizer_rules(before: str, after: str) -> None:
    assert S.optimize_prompt(before) == after


def test_improve_prompt_keeps_script_feedback_and_target() -> None:
    prompt = S.improve_script_prompt("HOOK:\nHi.", "Too short", topic="cats", duration_s=120)
    assert prompt.system == "You are an expert script editor."
    for needle in (
        "Original Script:\nHOOK:\nHi.",
        "Feedback:\nToo short",
        "Topic: cats",
        "Duration: 120 seconds",
    ):
        assert needle in prompt.user
    assert "Maintain the same structure and duration" in prompt.user


# --- post-processing ---------------------------------------------------------------------------------------
def test_existing_visual_cue_is_not_doubled_and_pause_is_not_a_visual() -> None:
    text = "Look. [VISUAL: a red car] Wait. [PAUSE] Go."
    assert (
        S.prepare_script(text) == text
    )  # the seed's regex gave "[VISUAL: VISUAL: a red car]", "[VISUAL: PAUSE]"


@pytest.mark.parametrize(
    ("cue", "standard"),
    [
        ("[Close-up of a mug]", "[VISUAL: Close-up of a mug]"),
        ("[visual - barista]", "[VISUAL: barista]"),
        ("[Visuals: city at night]", "[VISUAL: city at night]"),
        ("[B-ROLL: grinder]", "[VISUAL: grinder]"),
        ("(Visual: kettle)", "[VISUAL: kettle]"),
        ("[pause]", "[PAUSE]"),
        ("[Dramatic pause 2s]", "[PAUSE]"),
        ("[MUSIC: upbeat]", "[SOUND: upbeat]"),
        ("[VISUAL]", ""),
        ("[HOOK]", "[HOOK]"),
    ],
)
def test_cues_are_standardised(cue: str, standard: str) -> None:
    assert S.prepare_script(f"Say this. {cue} Then that.") == f"Say this. {standard} Then that.".replace(
        "  ", " "
    )


def test_prepare_script_collapses_ellipses_and_shouting_and_is_idempotent() -> None:
    once = S.prepare_script(MESSY_SCRIPT)
    assert "..." not in once and "!!" not in once and "VISUAL: VISUAL" not in once
    assert S.prepare_script(once) == once


def test_narration_is_only_what_is_spoken() -> None:
    narration = S.narration_text(MESSY_SCRIPT)
    assert narration.split("\n\n") == [
        "Is your morning coffee secretly terrible?",
        "Today you'll learn three fixes!",
        "Most people grind too fine. It makes the cup bitter.",
        "Boiling water burns the beans. Aim for ninety-three degrees.",
        "Buy whole beans and use them within a month.",
        "Hit subscribe for more coffee tips.",
        "Grind right, heat right, buy fresh. See you next time.",
    ]
    for unspoken in (
        "[",
        "]",
        "*",
        "#",
        "HOOK",
        "INTRO",
        "POINT",
        "Grind size",
        "TITLE",
        "Narrator",
        "upbeat",
    ):
        assert unspoken not in narration


def test_sentences_that_merely_start_with_a_label_word_are_spoken() -> None:
    text = "Intro-level gear is fine.\nHook viewers with a question.\nConclusion is near."
    assert S.narration_text(text).split("\n\n") == [
        "Intro-level gear is fine.",
        "Hook viewers with a question.",
        "Conclusion is near.",
    ]


def test_visual_cues_in_script_order() -> None:
    assert S.visual_cues(MESSY_SCRIPT) == [
        "Close-up of a steaming mug",
        "barista pouring milk",
        "coffee grinder in action",
        "kettle with thermometer",
        "subscribe button animation",
    ]


def test_point_headings() -> None:
    assert S.point_headings(MESSY_SCRIPT) == ["Grind size", "Water temperature", "Fresh beans"]


# --- metadata ----------------------------------------------------------------------------------------------
def test_title_from_title_line_else_from_topic() -> None:
    assert S.derive_title(MESSY_SCRIPT, "coffee") == "5 Coffee Mistakes You Make Every Morning"
    assert S.derive_title("HOOK:\nHi.", "home <espresso> tips") == "Home espresso tips"
    long = S.derive_title("TITLE: " + "word " * 40, "x")
    assert len(long) <= S.TITLE_MAX_CHARS and not long.endswith(" ")


def test_tags_fit_youtube_limits_and_start_with_the_topic() -> None:
    narration = "coffee " * 5 + "espresso " * 4 + "milk " * 2
    tags = S.derive_tags("Home Coffee, Brewing", "educational", narration)
    assert tags[:2] == ["home coffee brewing", "home coffee"]
    assert "espresso" in tags and "milk" not in tags  # said often enough vs not
    assert all("," not in t and "<" not in t for t in tags)
    long_topic = " ".join(f"topicword{i}" for i in range(60))
    many = S.derive_tags(long_topic, "s", "")
    assert len(many) <= S.TAGS_MAX_COUNT
    assert sum(len(t) + (2 if " " in t else 0) + 1 for t in many) <= S.TAGS_MAX_TOTAL_CHARS


def test_description_opens_with_the_hook_lists_points_and_fits() -> None:
    narration = S.narration_text(MESSY_SCRIPT)
    description = S.derive_description(narration, S.point_headings(MESSY_SCRIPT), ["coffee", "home coffee"])
    assert description.startswith("Is your morning coffee secretly terrible? Today you'll learn three fixes!")
    assert "• Grind size\n• Water temperature\n• Fresh beans" in description
    assert description.endswith("#coffee")
    huge = S.derive_description("é" * 10_000 + ".", [], [])
    assert len(huge.encode()) <= S.DESCRIPTION_MAX_BYTES


# --- duration and cost -------------------------------------------------------------------------------------
def test_duration_estimate_at_the_configured_pace() -> None:
    assert S.estimate_duration_s("word " * 150, 150) == 60
    assert S.estimate_duration_s("word " * 150, 300) == 30
    assert S.estimate_duration_s("", 150) == 0


def test_cost_is_decimal_per_model_with_snapshots_and_unknowns_priced_high() -> None:
    prices = {"gpt-4": Decimal("0.03"), "gpt-3.5-turbo": Decimal("0.002")}
    assert S.chat_cost_usd("gpt-4", 1000, 1000, prices) == Decimal("0.060000")
    assert S.chat_cost_usd("gpt-3.5-turbo-0125", 1500, 500, prices) == Decimal("0.004000")
    assert S.chat_cost_usd("some-new-model", 1000, 0, prices) == Decimal("0.030000")
    assert isinstance(S.chat_cost_usd("gpt-4", 1, 1, prices), Decimal)
    with pytest.raises(ValueError):
        S.chat_cost_usd("gpt-4", 1, 1, {})


# --- the step's work ---------------------------------------------------------------------------------------
def test_write_script_uses_economy_by_default(settings: Settings) -> None:
    chat = FakeChat()
    script = S.write_script(ScriptRequest(topic="coffee", duration_s=60), chat=chat, settings=settings)
    call = chat.calls[0]
    assert call["model"] == settings.script_model_economy
    assert call["max_tokens"] == settings.script_max_tokens_economy
    assert call["temperature"] == settings.script_temperature
    assert "Topic: coffee" in call["user"]
    assert script.title == "5 Coffee Mistakes You Make Every Morning"
    assert script.narration == S.narration_text(MESSY_SCRIPT)
    assert script.word_count == len(script.narration.split())
    assert script.estimated_duration_s == round(script.word_count * 60 / settings.words_per_minute)
    assert script.visual_cues[0] == "Close-up of a steaming mug"
    assert (script.prompt_tokens, script.completion_tokens) == (500, 700)
    assert script.cost_usd == Decimal("0.002400")  # 1,200 tokens at $0.002/1k


def test_premium_quality_uses_the_premium_model_and_its_price(settings: Settings) -> None:
    chat = FakeChat(model="gpt-4-0613")
    script = S.write_script(ScriptRequest(topic="coffee", quality="premium"), chat=chat, settings=settings)
    assert chat.calls[0]["model"] == settings.script_model_premium
    assert chat.calls[0]["max_tokens"] == settings.script_max_tokens_premium
    assert script.model == "gpt-4-0613"
    assert script.cost_usd == Decimal("0.036000")


def test_a_script_with_nothing_to_say_is_a_transient_provider_error(settings: Settings) -> None:
    chat = FakeChat(text="TITLE: Nothing\nHOOK:\n[VISUAL: black screen]\n[PAUSE]")
    with pytest.raises(ProviderError) as err:
        S.write_script(ScriptRequest(topic="x"), chat=chat, settings=settings)
    assert err.value.transient and err.value.reason == "empty_script"


def test_improve_script_sends_feedback_on_the_economy_model(settings: Settings) -> None:
    first = S.write_script(ScriptRequest(topic="coffee"), chat=FakeChat(), settings=settings)
    chat = FakeChat(text="TITLE: Better\nHOOK:\nA much better hook.")
    better = S.improve_script(
        first,
        "The hook is weak",
        req=ScriptRequest(topic="coffee", quality="premium"),
        chat=chat,
        settings=settings,
    )
    assert chat.calls[0]["model"] == settings.script_model_economy
    assert "The hook is weak" in chat.calls[0]["user"] and first.text in chat.calls[0]["user"]
    assert better.title == "Better" and better.narration == "A much better hook."


def test_script_round_trips_through_json_types(settings: Settings) -> None:
    script = S.write_script(ScriptRequest(topic="coffee"), chat=FakeChat(), settings=settings)
    data = script.to_dict()
    assert data["cost_usd"] == "0.002400"
    assert Script.from_dict(data) == script


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"topic": "  "}, "topic"),
        ({"topic": "x", "duration_s": 0}, "duration_s"),
        ({"topic": "x", "quality": "ultra"}, "quality"),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ScriptRequest(**kwargs)

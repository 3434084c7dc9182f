"""The last link of the script chain: a script built from templates, with the seed's structure (hook,
intro, 3-5 points, call to action, conclusion, [VISUAL] cues) and about the target number of words.
Deterministic per request, free, always available; plainer than a model's, so the job says it was used."""

from __future__ import annotations

import hashlib
import random

from shared.content.script import ScriptRequest, keywords, target_word_count

_HOOKS = (
    "What if most of what you have heard about {topic} was only half the story?",
    "Here is something about {topic} that almost nobody talks about.",
    "In the next few minutes, {topic} is going to make a lot more sense.",
)
_INTROS = (
    "We will look at where it comes from, why it matters, and what you can do with it today.",
    "By the end of this video you will know the essentials and the mistakes to avoid.",
)
_ANGLES = (
    "Where it all starts",
    "Why it matters",
    "The most common mistake",
    "What the experts do differently",
    "How to get started today",
)
_SENTENCES = (
    "It helps to start with the basics of {kw} and build up from there.",
    "A simple example makes the idea easy to remember.",
    "Small details add up to a big difference over time.",
    "Most people overlook this part, and that is exactly why it is worth your attention.",
    "Think about how this shows up in everyday life.",
    "The good news is that you do not need special tools to try it.",
    "Once you see the pattern, you will notice it everywhere.",
    "Take a moment to compare the old way with the new one.",
    "Patience matters here more than speed.",
    "Keep this in mind the next time {kw} comes up.",
)
_CTA = "Don't forget to like and subscribe. Hit the notification bell so you never miss a video."
_CONCLUSION = (
    "So that is {topic}: start with the basics, avoid the common mistakes, and keep going. "
    "Thanks for watching."
)
_VISUALS = ("wide shot of {kw}", "close-up of {kw}", "people exploring {kw}", "{kw} in everyday life")


def template_script(req: ScriptRequest, *, words_per_minute: int) -> str:
    """A script in the format the post-processing reads (TITLE line, labelled sections)."""
    rng = random.Random(hashlib.sha256(f"{req.topic}|{req.duration_s}".encode()).hexdigest())
    topic = " ".join(req.topic.split())
    kw = " ".join(keywords(topic)[:2]) or topic.lower()
    n_points = 3 if req.duration_s <= 90 else 4 if req.duration_s <= 300 else 5
    target = target_word_count(req.duration_s, words_per_minute)

    # Mid-sentence the topic starts lower-case, unless it starts with an acronym ("NASA missions").
    subject = topic if topic[:2].isupper() else topic[:1].lower() + topic[1:]

    def fill(text: str) -> str:
        return text.format(topic=subject, kw=kw)

    hook, intro, cta, conclusion = fill(rng.choice(_HOOKS)), rng.choice(_INTROS), _CTA, fill(_CONCLUSION)
    fixed = sum(len(t.split()) for t in (hook, intro, cta, conclusion))
    bodies: list[list[str]] = [[] for _ in range(n_points)]
    bank = list(_SENTENCES)
    rng.shuffle(bank)
    used, i = 0, 0
    while used < max(n_points * 8, target - fixed):
        sentence = fill(bank[i % len(bank)])
        bodies[i % n_points].append(sentence)
        used += len(sentence.split())
        i += 1
    lines = [
        f"TITLE: {topic[:1].upper()}{topic[1:]}",
        "",
        "HOOK:",
        f"[VISUAL: {fill(_VISUALS[0])}]",
        hook,
        "",
    ]
    lines += ["INTRO:", intro, ""]
    for n, body in enumerate(bodies, start=1):
        lines += [f"POINT {n}: {fill(_ANGLES[(n - 1) % len(_ANGLES)])}"]
        lines += [f"[VISUAL: {fill(_VISUALS[n % len(_VISUALS)])}]", " ".join(body), ""]
        if n == 1:
            lines += ["CALL TO ACTION:", cta, ""]
    lines += ["CONCLUSION:", conclusion]
    return "\n".join(lines)

"""The script step's provider chain (seed "Fallback_Chains: Script_Generation"):
premium model (premium jobs) -> economy model -> cached similar script -> template.

Each model link looks in the response cache (model + prompt, 1 h) first; otherwise it reserves the call's
estimated cost against the budgets, calls with bounded retries, settles the actual cost from `usage`,
caches the response and files the script in the library that "cached similar" searches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal

from shared.config import Settings
from shared.content.chain import Link, Provided, RetryPolicy, Served, Skipped, run_chain
from shared.content.script import (
    Prompt,
    Script,
    ScriptRequest,
    build_script_prompt,
    chat_cost_usd,
    improve_script_prompt,
    keywords,
    price_per_1k_tokens,
    script_from_completion,
)
from shared.content.template_script import template_script
from shared.ops.budgets import Budgets, OverBudget, to_micros
from shared.ports import ChatModel, ChatResult, KeyValueCache, ScriptLibrary, usd


@dataclass
class ScriptServices:
    chat: ChatModel
    cache: KeyValueCache
    library: ScriptLibrary
    budgets: Budgets
    retry: RetryPolicy
    settings: Settings
    job_id: str


def write_script_served(req: ScriptRequest, svc: ScriptServices) -> Served[Script]:
    s = svc.settings
    prompt = build_script_prompt(
        req, words_per_minute=s.words_per_minute, compress=s.script_prompt_compression
    )
    links: list[Link[Script]] = []
    if req.quality == "premium":
        links.append(_model_link(s.script_model_premium, s.script_max_tokens_premium, prompt, req, svc))
    links.append(_model_link(s.script_model_economy, s.script_max_tokens_economy, prompt, req, svc))
    links.append(Link("cache:similar", lambda: _similar(req, svc)))
    links.append(Link("template", lambda: _template(req, svc)))
    return run_chain("script", links)


def improve_script_served(
    previous: Script, feedback: str, req: ScriptRequest, svc: ScriptServices
) -> Served[Script]:
    """The quality loop's rewrite with feedback, on the economy model as the seed does; the template when
    the model cannot be had (a similar script would likely share the flaw that was reported)."""
    s = svc.settings
    prompt = improve_script_prompt(previous.text, feedback, topic=req.topic, duration_s=req.duration_s)
    return run_chain(
        "script",
        [
            _model_link(s.script_model_economy, s.script_max_tokens_economy, prompt, req, svc, library=False),
            Link("template", lambda: _template(req, svc)),
        ],
    )


def cache_key(model: str, prompt: Prompt, temperature: float, max_tokens: int) -> str:
    digest = hashlib.sha256(
        json.dumps([prompt.system, prompt.user, temperature, max_tokens]).encode()
    ).hexdigest()
    return f"llm:{model}:{digest}"


def estimate_cost_usd(model: str, prompt: Prompt, max_tokens: int, settings: Settings) -> Decimal:
    """An upper bound: the prompt's tokens estimated from its characters plus all the reply may use."""
    prompt_tokens = int((len(prompt.system) + len(prompt.user)) / settings.llm_chars_per_token_estimate) + 16
    price = price_per_1k_tokens(model, settings.openai_price_per_1k_tokens_usd)
    return usd(Decimal(prompt_tokens + max_tokens) * price / 1000)


def _model_link(
    model: str,
    max_tokens: int,
    prompt: Prompt,
    req: ScriptRequest,
    svc: ScriptServices,
    *,
    library: bool = True,
) -> Link[Script]:
    name = f"openai:{model}"

    def run() -> Script | Provided[Script]:
        s = svc.settings
        key = cache_key(model, prompt, s.script_temperature, max_tokens)
        hit = svc.cache.get(key)
        if hit is not None:
            cached = script_from_completion(ChatResult(**hit), req=req, settings=s)
            return Provided(_free(cached), f"{name} (cache)")
        try:
            reservation = svc.budgets.reserve(
                svc.budgets.charges("llm", svc.job_id, estimate_cost_usd(model, prompt, max_tokens, s))
            )
        except OverBudget as over:
            raise Skipped(str(over)) from None
        spent = 0
        try:
            result = svc.retry.call(
                lambda: svc.chat.complete(
                    model=model,
                    system=prompt.system,
                    user=prompt.user,
                    temperature=s.script_temperature,
                    max_tokens=max_tokens,
                ),
                provider=name,
            )
            spent = to_micros(
                chat_cost_usd(
                    result.model,
                    result.prompt_tokens,
                    result.completion_tokens,
                    s.openai_price_per_1k_tokens_usd,
                )
            )
        finally:
            svc.budgets.settle(reservation, spent)
        script = script_from_completion(result, req=req, settings=s)
        svc.cache.put(key, asdict(result), s.llm_cache_ttl_s)
        if library:
            _file(req, result, svc)
        return script

    return Link(name, run)


def _file(req: ScriptRequest, result: ChatResult, svc: ScriptServices) -> None:
    words = keywords(req.topic)
    entry = {
        "topic": req.topic,
        "keywords": words,
        "style": req.style,
        "duration_s": req.duration_s,
        "text": result.text,
        "model": result.model,
    }
    svc.library.add(
        f"{req.topic.lower()}|{req.style}|{req.duration_s}|{result.model}",
        entry,
        svc.settings.script_library_ttl_s,
    )


def similarity(a: list[str], b: list[str]) -> float:
    """Jaccard overlap of two keyword sets."""
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def _similar(req: ScriptRequest, svc: ScriptServices) -> Provided[Script]:
    words = keywords(req.topic)
    best, best_key = None, (0.0, 0.0)
    for entry in svc.library.candidates(words):
        score = similarity(words, entry.get("keywords") or [])
        closeness = -abs(int(entry.get("duration_s") or 0) - req.duration_s)
        if score >= svc.settings.script_similar_min_score and (score, closeness) > best_key:
            best, best_key = entry, (score, closeness)
    if best is None:
        raise Skipped(f"no script on a similar topic in the library (keywords {words[:6]})")
    # The other video's title line would name the other topic: the title comes from this request's.
    text = "\n".join(
        line for line in best["text"].splitlines() if not line.strip().upper().startswith("TITLE:")
    )
    script = script_from_completion(
        ChatResult(text=text, model=best.get("model", "cached"), prompt_tokens=0, completion_tokens=0),
        req=req,
        settings=svc.settings,
    )
    return Provided(_free(script), f"cache:similar ({best['topic'][:60]})")


def _template(req: ScriptRequest, svc: ScriptServices) -> Script:
    text = template_script(req, words_per_minute=svc.settings.words_per_minute)
    return _free(
        script_from_completion(
            ChatResult(text=text, model="template", prompt_tokens=0, completion_tokens=0),
            req=req,
            settings=svc.settings,
        )
    )


def _free(script: Script) -> Script:
    """A script nobody is billed for now (cached or templated)."""
    return Script(**{**script.__dict__, "cost_usd": Decimal(0), "prompt_tokens": 0, "completion_tokens": 0})

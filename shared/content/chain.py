"""Provider chains: an ordered list of links (one provider each), tried until one serves.

A link either serves a value, declines (`Skipped`: over budget, rate limited, not for this job, nothing
cached) or fails (`ProviderError` after its bounded retries). Every link passed over is recorded with
the reason, so a job can say which provider served each step and why the ones before it did not.
Adding a provider to a chain is adding a link: Anthropic or Cohere for scripts, another TTS or image
vendor, each one adapter module behind the same port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared.ports import ProviderError

T = TypeVar("T")


class Skipped(Exception):
    """A link declines to run; the message says why (and is recorded on the job)."""


@dataclass(frozen=True)
class Fallback:
    provider: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "reason": self.reason}


@dataclass(frozen=True)
class Link(Generic[T]):
    name: str
    run: Callable[[], T]


@dataclass(frozen=True)
class Provided(Generic[T]):
    """What a link may return instead of a bare value to name the provider more precisely
    (e.g. "openai:gpt-3.5-turbo (cache)")."""

    value: T
    provider: str


@dataclass
class Served(Generic[T]):
    value: T
    provider: str
    fallbacks: list[Fallback] = field(default_factory=list)

    def fallback_dicts(self) -> list[dict[str, str]]:
        return [f.to_dict() for f in self.fallbacks]


class ChainExhausted(Exception):
    """Every link declined or failed. `transient` when any failure might clear by trying later."""

    def __init__(self, what: str, fallbacks: list[Fallback], transient: bool):
        reasons = "; ".join(f"{f.provider}: {f.reason}" for f in fallbacks) or "no providers"
        super().__init__(f"every {what} provider failed: {reasons}")
        self.fallbacks = fallbacks
        self.transient = transient


def describe(exc: BaseException) -> str:
    if isinstance(exc, ProviderError):
        kind = "transient" if exc.transient else "permanent"
        return f"{exc.reason or kind} ({kind}): {exc}"[:300]
    return str(exc)[:300]


def run_chain(what: str, links: Sequence[Link[Any]]) -> Served[Any]:
    """The first link that serves; the ones passed over, with their reasons."""
    fallbacks: list[Fallback] = []
    transient = False
    for link in links:
        try:
            value = link.run()
        except Skipped as skip:
            fallbacks.append(Fallback(link.name, f"skipped: {skip}"))
            continue
        except ProviderError as exc:
            transient = transient or exc.transient
            fallbacks.append(Fallback(link.name, describe(exc)))
            continue
        if isinstance(value, Provided):
            return Served(value.value, value.provider, fallbacks)
        return Served(value, link.name, fallbacks)
    raise ChainExhausted(what, fallbacks, transient)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of one provider call: exponential backoff with full jitter, at least what the
    provider's Retry-After asked for. A permanent failure is not retried; neither is a 429 asking to
    wait longer than `retry_after_max_s` (`on_long_wait(provider, seconds)` is told, so the provider
    can be marked limited for every instance, and the chain moves on)."""

    attempts: int = 3
    initial_s: float = 0.5
    max_s: float = 8.0
    retry_after_max_s: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    on_long_wait: Callable[[str, float], None] | None = None

    @classmethod
    def from_settings(cls, s: Any, **overrides: Any) -> RetryPolicy:
        values = {
            "attempts": s.provider_retry_attempts,
            "initial_s": s.provider_retry_initial_s,
            "max_s": s.provider_retry_max_s,
            "retry_after_max_s": s.provider_retry_after_max_s,
        }
        values.update(overrides)
        return cls(**values)

    def call(self, fn: Callable[[], T], *, provider: str) -> T:
        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, ProviderError) or not exc.transient:
                return False
            wait = exc.retry_after_s
            if wait is not None and wait > self.retry_after_max_s:
                if self.on_long_wait is not None:
                    self.on_long_wait(provider, wait)
                return False
            return True

        backoff = wait_random_exponential(multiplier=self.initial_s, max=self.max_s)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = exc.retry_after_s if isinstance(exc, ProviderError) and exc.retry_after_s else 0.0
            return max(backoff(state), asked)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception(retryable),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn)

"""ChatModel adapter for OpenAI chat completions (the official `openai` client), with provider failures
mapped to ProviderError: rate limits, 5xx, timeouts and connection failures are transient."""

from __future__ import annotations

import re

import openai

from shared.config import Settings
from shared.ports import ChatResult, ProviderError, retry_after_seconds

PROVIDER = "openai"
_KEY_LIKE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-*]{3,}")


def _redact(message: str, secret: str) -> str:
    """Provider messages can quote part of the API key ("Incorrect API key provided: sk-...")."""
    if secret:
        message = message.replace(secret, "***")
    return _KEY_LIKE.sub("***", message)


class OpenAIChatModel:
    """One `openai.OpenAI` client per instance; the client's own retries cover short 429/5xx bursts."""

    def __init__(self, settings: Settings) -> None:
        self._api_key = settings.openai_api_key.get_secret_value()
        if not self._api_key:
            raise ProviderError(
                "openai_api_key is not set (YTEMPIRE_OPENAI_API_KEY)",
                transient=False,
                provider=PROVIDER,
                reason="missing_api_key",
            )
        self._client = openai.OpenAI(
            base_url=settings.openai_base_url or None,
            api_key=self._api_key,
            timeout=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )

    def complete(
        self, *, model: str, system: str, user: str, temperature: float, max_tokens: int
    ) -> ChatResult:
        try:
            response = self._client.chat.completions.create(
                model=model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=temperature,
                max_tokens=max_tokens,
            )
        except openai.APIError as exc:
            raise provider_error(exc, model, self._api_key) from None
        choice = response.choices[0] if response.choices else None
        text = choice.message.content if choice is not None else None
        if not text:
            reason = choice.finish_reason if choice is not None else "no_choices"
            raise ProviderError(
                f"OpenAI {model} returned no content (finish_reason={reason})",
                transient=True,
                provider=PROVIDER,
                reason="empty_completion",
            )
        usage = response.usage
        return ChatResult(
            text=text,
            model=response.model or model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )


def provider_error(exc: openai.APIError, model: str, api_key: str) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(
            f"OpenAI {model}: timed out", transient=True, provider=PROVIDER, reason="timeout"
        )
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            f"OpenAI {model}: connection failed", transient=True, provider=PROVIDER, reason="connection"
        )
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "code", None) or getattr(exc, "type", None) or ""
    message = _redact(str(getattr(exc, "message", "") or exc), api_key)
    if isinstance(exc, openai.RateLimitError):
        # A 429 for an exhausted balance does not clear by waiting.
        transient = code != "insufficient_quota"
        reason = code or "rate_limited"
    elif status is None:
        transient, reason = True, code or "api_error"
    else:
        transient = status >= 500 or status in (408, 409)
        reason = code or f"http_{status}"
    response = getattr(exc, "response", None)
    return ProviderError(
        f"OpenAI {model}: HTTP {status}: {message}",
        transient=transient,
        provider=PROVIDER,
        reason=str(reason),
        retry_after_s=retry_after_seconds(response.headers.get("retry-after"))
        if response is not None
        else None,
    )

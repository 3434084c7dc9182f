"""ImageGenerator adapter for OpenAI image generation (the official client, `images.generate`), b64 answers
only (no second download). Failures map to ProviderError like the chat adapter's."""

from __future__ import annotations

import base64

import openai

from shared.config import Settings
from shared.content.openai_chat import PROVIDER, provider_error
from shared.ports import GeneratedImage, ProviderError


class OpenAIImageGenerator:
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

    def generate(self, prompt: str, *, model: str, size: str) -> GeneratedImage:
        kwargs = {} if model.startswith("gpt-image") else {"response_format": "b64_json"}
        try:
            response = self._client.images.generate(model=model, prompt=prompt, size=size, n=1, **kwargs)
        except openai.APIError as exc:
            raise provider_error(exc, model, self._api_key) from None
        data = response.data[0].b64_json if response.data else None
        if not data:
            raise ProviderError(
                f"OpenAI {model}: no image returned", transient=True, provider=PROVIDER, reason="empty_image"
            )
        return GeneratedImage(data=base64.b64decode(data), model=model, size=size)

"""What the REST adapters (Pexels, Pixabay, Unsplash, Shutterstock, ElevenLabs) share: one requests.Session
per adapter, failures mapped to ProviderError (408/429/5xx, timeouts and connection failures transient;
Retry-After kept), and downloads streamed in bounded chunks with a size cap and a content-type check."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import requests

from shared.ports import Fetched, ProviderError, retry_after_seconds

TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class HttpApi:
    def __init__(
        self,
        provider: str,
        *,
        timeout_s: float,
        error_detail: Callable[[requests.Response], str] | None = None,
        reason_for: Callable[[requests.Response], str] | None = None,
    ) -> None:
        self.provider = provider
        self.session = requests.Session()
        self._timeout_s = timeout_s
        self._error_detail = error_detail or _default_detail
        self._reason_for = reason_for

    def request(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            resp = self.session.request(method, url, timeout=self._timeout_s, **kwargs)
        except requests.exceptions.Timeout:
            raise ProviderError(
                f"{self.provider} {what}: timed out", transient=True, provider=self.provider, reason="timeout"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ProviderError(
                f"{self.provider} {what}: {type(exc).__name__}",
                transient=True,
                provider=self.provider,
                reason="connection",
            ) from None
        if resp.status_code >= 400:
            raise self.error(resp, what)
        return resp

    def error(self, resp: requests.Response, what: str) -> ProviderError:
        status = resp.status_code
        reason = (self._reason_for(resp) if self._reason_for else "") or (
            "rate_limited" if status == 429 else f"http_{status}"
        )
        detail = self._error_detail(resp)
        resp.close()
        return ProviderError(
            f"{self.provider} {what}: HTTP {status}: {detail}"[:500],
            transient=status in TRANSIENT_STATUS or status >= 500 or reason == "rate_limited",
            provider=self.provider,
            reason=reason,
            retry_after_s=retry_after_seconds(resp.headers.get("Retry-After")),
        )

    def json(self, resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise ProviderError(
                f"{self.provider} {what}: response is not JSON",
                transient=True,
                provider=self.provider,
                reason="bad_body",
            ) from None

    @contextlib.contextmanager
    def fetch(self, url: str, what: str, *, expect: str, max_bytes: int, **kwargs: Any) -> Iterator[Fetched]:
        """Stream a file: the body is read chunk by chunk from the open connection, never all at once."""
        resp = self.request("GET", url, what, stream=True, **kwargs)
        try:
            content_type = resp.headers.get("Content-Type", "")
            if not content_type.startswith(expect):
                raise ProviderError(
                    f"{self.provider} {what}: got {content_type or 'no content type'}, expected {expect}*",
                    transient=False,
                    provider=self.provider,
                    reason="bad_content_type",
                )
            length = resp.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            if size is not None and size > max_bytes:
                raise ProviderError(
                    f"{self.provider} {what}: {size} bytes is over the {max_bytes}-byte limit",
                    transient=False,
                    provider=self.provider,
                    reason="too_large",
                )
            resp.raw.decode_content = True
            yield Fetched(
                stream=_Capped(resp.raw, max_bytes, self.provider, what),
                content_type=content_type,
                size_bytes=size,
            )
        finally:
            resp.close()


class _Capped:
    """A read-only stream that raises once more than `max_bytes` have come through."""

    def __init__(self, raw: BinaryIO, max_bytes: int, provider: str, what: str) -> None:
        self._raw, self._left, self._provider, self._what = raw, max_bytes, provider, what
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size is not None and size >= 0 else self._left + 1)
        self._left -= len(data)
        self._position += len(data)
        if self._left < 0:
            raise ProviderError(
                f"{self._provider} {self._what}: larger than allowed",
                transient=False,
                provider=self._provider,
                reason="too_large",
            )
        return data

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # resumable uploads ask where the stream stands
        return self._position


def _default_detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        for key in ("error", "errors", "message", "detail"):
            if key in body:
                value = body[key]
                if isinstance(value, dict):
                    value = value.get("message") or value
                if isinstance(value, list):
                    value = "; ".join(str(v) for v in value)
                return str(value)[:200]
    return str(body)[:200]

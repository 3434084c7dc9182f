"""The Stripe adapter: one `StripeClient` per instance, every write with an idempotency key, retries with
jittered exponential backoff on rate limits, 5xx and connection errors (the same key each time, so a
retried write happens once), and a clear split between "try again later" and "Stripe said no".

The stripe library is imported here and only here; only the functions that call Stripe import this.
Results are plain dicts (the library's objects `to_dict()`), so the domain never sees its types.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import stripe

from shared.config import Settings
from shared.log import get_logger

log = get_logger("billing.stripe")


class StripeUnavailable(RuntimeError):
    """Stripe could not be reached or kept failing (429, 5xx, network) after every attempt."""

    def __init__(self, operation: str, attempts: int, error: str):
        super().__init__(f"{operation}: Stripe unavailable after {attempts} attempts ({error})")
        self.operation = operation
        self.attempts = attempts
        self.error = error


class StripeRefused(ValueError):
    """Stripe answered with a permanent error (invalid request, card declined, auth): retrying won't help."""

    def __init__(self, operation: str, status: int | None, message: str, code: str | None = None):
        super().__init__(f"{operation}: Stripe refused ({status}): {message}")
        self.operation = operation
        self.status = status
        self.code = code


def _transient(e: stripe.StripeError) -> bool:
    if isinstance(e, stripe.RateLimitError | stripe.APIConnectionError):
        return True
    status = e.http_status or 0
    return status == 429 or status >= 500 or (isinstance(e, stripe.APIError) and not status)


class StripeGateway:
    def __init__(
        self,
        settings: Settings,
        *,
        http_client: stripe.HTTPClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._http_client = http_client
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: stripe.StripeClient | None = None

    @property
    def client(self) -> stripe.StripeClient:
        with self._lock:
            if self._client is None:
                s = self._settings
                self._client = stripe.StripeClient(
                    s.stripe_api_key.get_secret_value(),
                    base_addresses={"api": s.stripe_api_base} if s.stripe_api_base else None,
                    max_network_retries=0,  # retries are ours: counted, logged, then manual processing
                    http_client=self._http_client or stripe.RequestsClient(timeout=s.stripe_timeout_s),
                )
            return self._client

    def call(
        self,
        operation: str,
        fn: Callable[[stripe.StripeClient, dict[str, Any]], Any],
        *,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """Run `fn(client, request_options)` with retries; the result as a dict."""
        s = self._settings
        options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
        last = ""
        for attempt in range(1, s.stripe_max_attempts + 1):
            try:
                result = fn(self.client, options)
                return result.to_dict() if hasattr(result, "to_dict") else dict(result)
            except stripe.StripeError as e:
                if not _transient(e):
                    raise StripeRefused(operation, e.http_status, e.user_message or str(e), e.code) from None
                last = f"{type(e).__name__} {e.http_status or ''}".strip()
                log.warning(
                    "stripe call failed, retrying"
                    if attempt < s.stripe_max_attempts
                    else "stripe call failed",
                    extra={"operation": operation, "attempt": attempt, "error": last},
                )
            if attempt < s.stripe_max_attempts:
                cap = min(s.stripe_retry_max_s, s.stripe_retry_base_s * 2 ** (attempt - 1))
                self._sleep(random.uniform(cap / 2, cap) if cap else 0)
        raise StripeUnavailable(operation, s.stripe_max_attempts, last)

    # --- the operations (each one Stripe call) -------------------------------------------------------
    def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return self.call(
            "create_checkout_session",
            lambda c, o: c.v1.checkout.sessions.create(params=params, options=o),
            idempotency_key=idempotency_key,
        )

    def create_customer(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return self.call(
            "create_customer",
            lambda c, o: c.v1.customers.create(params=params, options=o),
            idempotency_key=idempotency_key,
        )

    def create_subscription(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return self.call(
            "create_subscription",
            lambda c, o: c.v1.subscriptions.create(params=params, options=o),
            idempotency_key=idempotency_key,
        )

    def cancel_subscription(
        self, subscription_id: str, *, immediate: bool, idempotency_key: str
    ) -> dict[str, Any]:
        if immediate:
            return self.call(
                "cancel_subscription",
                lambda c, o: c.v1.subscriptions.cancel(subscription_id, options=o),
                idempotency_key=idempotency_key,
            )
        return self.call(
            "cancel_subscription",
            lambda c, o: c.v1.subscriptions.update(
                subscription_id, params={"cancel_at_period_end": True}, options=o
            ),
            idempotency_key=idempotency_key,
        )

    def create_payment_intent(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return self.call(
            "create_payment_intent",
            lambda c, o: c.v1.payment_intents.create(params=params, options=o),
            idempotency_key=idempotency_key,
        )

    def list_invoices(self, stripe_customer_id: str, *, limit: int) -> dict[str, Any]:
        # A GET: Stripe ignores idempotency keys on reads, and a read is safe to repeat.
        return self.call(
            "list_invoices",
            lambda c, o: c.v1.invoices.list(
                params={"customer": stripe_customer_id, "limit": limit}, options=o
            ),
            idempotency_key=None,
        )

    def create_payment_method(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return self.call(
            "create_payment_method",
            lambda c, o: c.v1.payment_methods.create(params=params, options=o),
            idempotency_key=idempotency_key,
        )

    def retrieve_price(self, price_id: str) -> dict[str, Any]:
        return self.call(
            "retrieve_price", lambda c, o: c.v1.prices.retrieve(price_id, options=o), idempotency_key=None
        )

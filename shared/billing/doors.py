"""The billing functions' HTTP doors: parse, one library call, status code (as shared/doors.py does for
the chain). `create_checkout` is a private API; `stripe_webhook` is public and trusts only signatures."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.bootstrap import container
from shared.chain.runner import utcnow
from shared.log import get_logger, log_context, trace_from_header
from shared.web import BadRequest, Reply, error_reply, parse_json_body, reply, require_method

log = get_logger("billing.doors")


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    plan: str = Field(min_length=1, max_length=40)
    period: str = Field(default="monthly", min_length=1, max_length=20)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    customer_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$"
    )
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=255)

    @model_validator(mode="after")
    def _someone(self) -> CheckoutRequest:
        if not (self.email or self.customer_id):
            raise ValueError("give email or customer_id")
        return self


def create_checkout(request: Any) -> Reply:
    from shared.billing import service
    from shared.billing.plans import UnknownPlan
    from shared.billing.stripe_api import StripeRefused

    c = container()
    with log_context(
        trace=trace_from_header(request.headers.get("X-Cloud-Trace-Context"), c.settings.project_id)
    ):
        try:
            require_method(request, "POST")
            body = parse_json_body(request, CheckoutRequest, max_bytes=8192)
            session = service.create_checkout(
                plan=body.plan,
                period=body.period,
                customer_id=body.customer_id,
                email=body.email,
                key=body.idempotency_key,
                records=c.billing,
                stripe=c.stripe,
                settings=c.settings,
                now=utcnow(),
            )
        except BadRequest as e:
            field = e.field if e.field != "body" or "email or customer_id" not in str(e) else "customer_id"
            return error_reply(str(e), e.status, field)
        except UnknownPlan as e:
            return error_reply(f"{e.field}: {e}", 400, e.field)
        except service.ManualProcessing as e:
            return reply({"error": str(e), "action_id": e.action_id}, 503, {"Retry-After": "60"})
        except StripeRefused as e:
            log.error("checkout refused by Stripe", extra={"status": e.status, "code": e.code})
            return error_reply(f"Stripe refused the checkout session: {e}", 502)
        return reply(session)


def stripe_webhook(request: Any) -> Reply:
    from shared.billing import webhook

    c = container()
    if request.method != "POST":
        return error_reply(f"method {request.method} not allowed; use POST", 405)
    length = request.content_length
    if length is not None and length > webhook.MAX_BODY_BYTES:
        return error_reply(f"body is {length} bytes; at most {webhook.MAX_BODY_BYTES}", 400, "body")
    raw = request.get_data(cache=True)
    try:
        outcome = webhook.handle(
            raw,
            request.headers.get("Stripe-Signature"),
            events=c.billing,
            settings=c.settings,
            now=utcnow(),
        )
    except webhook.InProgress as e:
        return error_reply(str(e), 409, None, {"Retry-After": "5"})
    except webhook.Rejected as e:
        field = "Stripe-Signature" if str(e).startswith("Stripe-Signature") else "body"
        log.warning("stripe webhook refused", extra={"reason": str(e)[:200]})
        return error_reply(str(e), 400, field)
    return reply(outcome.to_json())

"""POST a Stripe Checkout Session for a plan: `{plan, period, email | customer_id, idempotency_key?}` →
`{url, session_id}`; an unknown plan or period is a 400 naming the field."""

from shared.billing.doors import create_checkout as handle  # noqa: F401

"""Stripe's webhook endpoint (public): the signature is verified on the raw body before anything else;
each event id is applied once; entitlements follow."""

from shared.billing.doors import stripe_webhook as handle  # noqa: F401

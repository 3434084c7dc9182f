"""Billing: Stripe checkout and subscriptions, the webhook that keeps entitlements, and their enforcement.

plans (the plan table from settings) · events (Stripe events → per-subscription facts, pure) ·
entitlements (facts → what a customer may do now, pure) · webhook (verify, dedupe, apply) ·
firestore_billing (the Firestore adapter) · stripe_api (the Stripe adapter: retries, idempotency keys) ·
service (the operator's and the app's operations) · doors (HTTP) · cli (`ytempire billing`).
"""

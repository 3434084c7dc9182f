"""Adapters of the ports onto Google Cloud: Firestore, Cloud Tasks, Cloud Storage, Secret Manager.

Each module imports only its own client library, so a function pays only for the adapters it uses.
"""

from google.api_core import exceptions as _gexc

# API errors worth retrying later (rate limits, server-side and deadline failures).
TRANSIENT_API_ERRORS = (
    _gexc.TooManyRequests,
    _gexc.InternalServerError,
    _gexc.BadGateway,
    _gexc.ServiceUnavailable,
    _gexc.GatewayTimeout,
    _gexc.DeadlineExceeded,
)

"""What the code expects of its deployment: every entry point, its queues, secrets, grants and schedule.

Terraform (terraform/) must match this inventory, and tests/unit/test_deploy_consistency.py holds the two
together. What the code already says is derived from it — entry points from functions/main.py, steps,
queues and successors from shared.chain.graph, secrets from the `SecretStr` fields of Settings — and only
what the code cannot say (which secrets a function reads, what it may touch, whether it is public, its
schedule) is declared here, in TRAITS. A new entry point without TRAITS is reported, not guessed.

Cheap to import: plain data, and functions/main.py is parsed (not imported) on first use.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from shared.chain import graph
from shared.config import STEPS, Settings

Kind = Literal["step", "http", "scheduled"]
Access = Literal["none", "read", "write"]


@dataclass(frozen=True)
class Traits:
    """What an entry point does that the code cannot tell by itself."""

    secrets: tuple[str, ...] = ()  # Settings SecretStr fields it reads
    youtube_tokens: bool = False  # reads and adds versions of the per-account token secrets
    firestore: Access = "write"
    media: Access = "none"  # the media bucket
    public: bool = False  # anyone may invoke (the function authenticates callers itself)
    schedule: str | None = None  # cron in UTC: a Cloud Scheduler job calls it
    enqueues: tuple[str, ...] = ()  # steps it enqueues beyond what shared.chain.graph implies


# The OAuth client secrets a function needs to refresh or exchange YouTube tokens (one per quota pool).
_YOUTUBE_CLIENT: tuple[str, ...] = ("youtube_client_secret", "youtube_client_secrets")

# Declared per entry point of functions/main.py. Steps need no `enqueues`: their successors come from the
# graph, and every step may re-enqueue itself (deferral with schedule_time).
TRAITS: dict[str, Traits] = {
    "video_request": Traits(enqueues=(graph.FIRST_STEP,)),
    "job_status": Traits(firestore="read"),
    "step_script": Traits(secrets=("openai_api_key",), media="write"),
    # Google Cloud TTS authenticates with the function's own identity; ElevenLabs (premium) with a key.
    "step_voice": Traits(secrets=("elevenlabs_api_key",), media="write"),
    "step_media": Traits(
        secrets=("pexels_api_key", "pixabay_api_key", "unsplash_access_key", "shutterstock_api_token"),
        media="write",
    ),
    # OpenAI image generation, then the Pillow template.
    "step_thumbnail": Traits(secrets=("openai_api_key",), media="write"),
    "step_render": Traits(media="write"),
    # A low score sends the job back to script once, with feedback.
    "step_quality": Traits(media="read", enqueues=(graph.FIRST_STEP,)),
    "step_upload": Traits(secrets=_YOUTUBE_CLIENT, youtube_tokens=True, media="read"),
    "step_publish": Traits(secrets=_YOUTUBE_CLIENT, youtube_tokens=True, media="read"),
    "step_notify": Traits(media="none"),
    # Billing (issue 5): checkout calls Stripe with the API key and records billing actions; the webhook
    # is public (Stripe presents no identity token) and trusts only the signature its secret verifies.
    "create_checkout": Traits(secrets=("stripe_api_key",)),
    "stripe_webhook": Traits(secrets=("stripe_webhook_secret",), public=True),
    # --- account pool (issue 3) ---
    # Signs the state; reads the account's pool. Called by operators (IAM), never by the public.
    "oauth_start": Traits(secrets=("oauth_state_secret",), firestore="read"),
    # Google redirects the operator's browser here: it must be public, and it authenticates the call
    # itself (signed, expiring, single-use state bound to the account; PKCE).
    "oauth_callback": Traits(
        secrets=("oauth_state_secret", *_YOUTUBE_CLIENT), youtube_tokens=True, public=True
    ),
    # Every minute (the seed's check interval): tokens expiring within 5 minutes are refreshed.
    "token_refresh": Traits(secrets=_YOUTUBE_CLIENT, youtube_tokens=True, schedule="* * * * *"),
    # Daily at 11:00 UTC (03:00/04:00 Pacific), once YouTube Analytics has closed the previous day.
    "analytics_sync": Traits(secrets=_YOUTUBE_CLIENT, youtube_tokens=True, schedule="0 11 * * *"),
}

# The only entry points that may ever be public: they authenticate callers themselves (Stripe
# signatures, OAuth state). Everything else requires an identity token.
INTENDED_PUBLIC: frozenset[str] = frozenset({"stripe_webhook", "oauth_callback"})

# Task dispatch deadline per step queue: a setting (Cloud Tasks sets it per task, not per queue; the task
# queue adapter puts it on every task). Each is below its function's timeout in terraform/functions.tf.
DISPATCH_DEADLINE_S: dict[str, int] = dict(Settings.model_fields["step_dispatch_deadline_s"].default)
# A claimed step's lease: its deadline plus the margin (shared.bootstrap.Container.policy).
LEASE_S: dict[str, int] = {
    step: deadline + Settings.model_fields["step_lease_margin_s"].default
    for step, deadline in DISPATCH_DEADLINE_S.items()
}

# Composite indexes the queries need: (collection, ((field, ASCENDING|DESCENDING), ...)).
FIRESTORE_INDEXES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("jobs", (("status", "ASCENDING"), ("updated_at", "DESCENDING"))),
    ("jobs", (("customer_id", "ASCENDING"), ("created_at", "DESCENDING"))),
)

# Every media artefact of a job is stored under this prefix of the media bucket (shared.steps.artefact_path);
# a lifecycle rule deletes them some days after (terraform/storage.tf).
MEDIA_ARTEFACT_PREFIX = "jobs/"

# Collections whose documents carry `TTL_FIELD` and are deleted by Firestore once it has passed.
TTL_FIELD = "expires_at"
# Collections with a Firestore TTL policy on `expires_at`: provider response caches, the Stripe event log,
# used OAuth state nonces and the quota ledger's per-day upload slots (account pool, issue 3), and the
# rate-limit windows' slot documents (`rate_slots`, a collection group: shared.gcp.firestore_state) and the
# library of scripts kept for "cached similar" (content chains, issue 4).
TTL_COLLECTIONS: tuple[str, ...] = (
    "cache",
    "stripe_events",
    "oauth_states",
    "pool_slots",
    "account_slots",
    "rate_slots",
    "script_library",
)


@dataclass(frozen=True)
class EntryPoint:
    name: str
    kind: Kind
    consumes: str | None  # the step whose queue delivers to it
    enqueues: frozenset[str]  # steps whose queues it creates tasks in
    secrets: frozenset[str]
    youtube_tokens: bool
    firestore: Access
    media: Access
    public: bool
    schedule: str | None


@dataclass(frozen=True)
class Manifest:
    entry_points: dict[str, EntryPoint]
    queues: dict[str, str]  # step => entry point its queue delivers to
    secrets: frozenset[str]  # every SecretStr field of Settings
    undeclared: tuple[str, ...]  # entry points of functions/main.py missing from TRAITS
    stale: tuple[str, ...]  # TRAITS of functions that are no longer entry points
    task_max_attempts: int
    token_secret_prefix: str

    @property
    def enqueued_steps(self) -> frozenset[str]:
        return frozenset(s for ep in self.entry_points.values() for s in ep.enqueues)


def main_module_path() -> Path:
    """functions/main.py, located without importing it."""
    spec = importlib.util.find_spec("functions.main")
    if spec is None or spec.origin is None:
        raise RuntimeError("functions/main.py not found")
    return Path(spec.origin)


def entry_point_names(source: str) -> tuple[str, ...]:
    """Top-level functions decorated by functions_framework (`@functions_framework.http`, ...)."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            _is_framework_decorator(d) for d in node.decorator_list
        ):
            names.append(node.name)
    return tuple(names)


def _is_framework_decorator(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "functions_framework"
    )


def secret_fields() -> frozenset[str]:
    """Settings fields typed SecretStr (or SecretStr | None)."""
    return frozenset(
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation)
    )


def secret_id(field: str) -> str:
    """Secret Manager id of a settings secret: openai_api_key -> openai-api-key."""
    return field.replace("_", "-")


def secret_env_var(field: str) -> str:
    return f"YTEMPIRE_{field.upper()}"


def build_manifest(names: tuple[str, ...] | None = None, traits: dict[str, Traits] | None = None) -> Manifest:
    """The inventory for the given entry point names and traits (default: the real code)."""
    names = entry_point_names(main_module_path().read_text()) if names is None else names
    traits = TRAITS if traits is None else traits
    step_of = {graph.entry_point(step): step for step in STEPS}

    entry_points: dict[str, EntryPoint] = {}
    for name in names:
        t = traits.get(name, Traits())
        step = step_of.get(name)
        if step is not None:
            kind: Kind = "step"
            enqueues = {step, *graph.SUCCESSORS[step], *t.enqueues}
        else:
            kind = "scheduled" if t.schedule else "http"
            enqueues = set(t.enqueues)
        entry_points[name] = EntryPoint(
            name=name,
            kind=kind,
            consumes=step,
            enqueues=frozenset(enqueues),
            secrets=frozenset(t.secrets),
            youtube_tokens=t.youtube_tokens,
            firestore=t.firestore,
            media=t.media,
            public=t.public,
            schedule=t.schedule,
        )

    defaults = Settings.model_fields
    return Manifest(
        entry_points=entry_points,
        queues={step: graph.entry_point(step) for step in STEPS},
        secrets=secret_fields(),
        undeclared=tuple(n for n in names if n not in traits),
        stale=tuple(sorted(set(traits) - set(names))),
        task_max_attempts=defaults["task_max_attempts"].default,
        token_secret_prefix=defaults["token_secret_prefix"].default,
    )


@functools.cache
def manifest() -> Manifest:
    """The inventory of the code as it is (cached per process)."""
    return build_manifest()

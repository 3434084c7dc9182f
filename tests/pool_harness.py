"""The account pool on the local stack, for tests and benchmarks: settings pointed at the Firestore
emulator and a YouTube sandbox (each run in its own collection prefix and with its own OAuth clients, so
nothing is shared with other tests), a pool of accounts with tokens and bound channels, and upload jobs
whose earlier steps are done — so the upload and publish steps run for real (rotation, ledger, gateway,
sandbox) without rendering videos.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from shared.bootstrap import Container
from shared.chain import jobs
from shared.chain.runner import ChainPolicy, StepResponse, run_step
from shared.config import Settings
from shared.youtube import quota
from shared.youtube.accounts import Account
from shared.youtube.tokens import TokenRecord, oauth_client_id
from tests.fakes import InMemoryJobStore, RecordingQueue

CHUNK_BYTES = 256 * 1024
STATE_SECRET = "test-oauth-state-signing-key"


class DictSecrets:
    """SecretStore fake: every put is a new version; get returns the latest."""

    def __init__(self) -> None:
        self.versions: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        with self._lock:
            if name not in self.versions:
                raise KeyError(name)
            return self.versions[name][-1]

    def put(self, name: str, value: str) -> None:
        with self._lock:
            self.versions.setdefault(name, []).append(value)


class MemoryBlobs:
    """BlobStore fake: bytes by path, `gs://test/<path>` URIs."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put_bytes(self, path: str, data: bytes, content_type: str = "") -> str:
        self.data[path] = data
        return f"gs://test/{path}"

    def get_bytes(self, uri: str) -> bytes:
        return self.data[uri.removeprefix("gs://test/")]

    def download_to(self, uri: str, local_path: Path) -> Path:
        Path(local_path).write_bytes(self.get_bytes(uri))
        return Path(local_path)

    def exists(self, uri: str) -> bool:
        return uri.removeprefix("gs://test/") in self.data


class Sandbox:
    """The YouTube sandbox's control surface."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, path: str, body: dict | None = None) -> dict:
        resp = requests.post(self.url + path, json=body or {}, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def get(self, path: str) -> dict:
        resp = requests.get(self.url + path, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def videos(self) -> list[dict]:
        return self.get("/_control/videos")["videos"]

    def quota_exceeded(self, clients: Iterable[str] | None = None) -> int:
        usage = self.get("/_control/quota")["clients"]
        wanted = set(clients) if clients is not None else set(usage)
        return sum(u["quota_exceeded"] for c, u in usage.items() if c in wanted)

    def calls(self) -> list[dict]:
        return self.get("/_control/calls")["calls"]


def pool_settings(firestore_host: str, sandbox_url: str, *, pools: int, **overrides: Any) -> Settings:
    """Settings for one isolated run: own collection prefix, own OAuth clients (p01.. -> run-client-01..)."""
    run = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "firestore_emulator_host": firestore_host,
        "collection_prefix": f"t{run}-",
        "youtube_api_base_url": sandbox_url,
        "youtube_analytics_base_url": sandbox_url,
        "youtube_token_uri": f"{sandbox_url}/token",
        "youtube_auth_uri": f"{sandbox_url}/o/oauth2/auth",
        "youtube_client_id": f"{run}-default-client",
        "youtube_client_secret": SecretStr("test-client-secret"),
        "youtube_oauth_clients": {f"p{i:04d}": f"{run}-client-{i:04d}" for i in range(1, pools + 1)},
        "youtube_upload_chunk_bytes": CHUNK_BYTES,
        "youtube_http_timeout_s": 20,
        "oauth_state_secret": SecretStr(STATE_SECRET),
        "functions_base_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)


def seed_pool(
    c: Container, accounts: list[tuple[str, str, str]], *, bind_channels: bool = True, workers: int = 4
) -> list[Account]:
    """(account_id, tier, pool) each with a token whose access token has expired and its channel bound."""

    def one(spec: tuple[str, str, str]) -> Account:
        account_id, tier, pool = spec
        c.tokens.save(
            account_id,
            TokenRecord(
                refresh_token=f"1//{c.settings.collection_prefix}{account_id}",
                expiry=datetime.now(UTC) - timedelta(seconds=1),
                client_id=oauth_client_id(c.settings, pool),
                token_uri=c.settings.youtube_token_uri,
            ),
        )
        channel = None
        if bind_channels:
            with c.ledger.metered(pool, "channels.list"):
                channel = c.youtube.channel_id(account_id)
        account = Account(account_id=account_id, tier=tier, pool=pool, channel_id=channel)
        c.accounts.put(account)
        return account

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, accounts))


def seed_fleet(active: int, reserve: int) -> list[tuple[str, str, str]]:
    """The seed's picture: every account its own pool (OAuth client)."""
    n = active + reserve
    return [(f"a{i:04d}", "active" if i <= active else "reserve", f"p{i:04d}") for i in range(1, n + 1)]


def fleet_capacity(settings: Settings, accounts: list[Account]) -> int:
    """Uploads a day by the rules: per pool, min(its accounts' caps, the profile's videos per pool)."""
    caps: dict[str, list[int]] = {}
    for a in accounts:
        caps.setdefault(a.pool, []).append(a.cap(settings))
    total = 0
    for pool, pool_caps in caps.items():
        profile = settings.quota_profiles[
            settings.quota_pool_profiles.get(pool, settings.quota_default_profile)
        ]
        total += quota.pool_capacity(profile, settings.quota_binding, pool_caps)
    return total


def configure_sandbox_quota(sandbox: Sandbox, settings: Settings) -> None:
    """The sandbox enforces what YouTube would for this profile (its daily limits and costs)."""
    profile = settings.quota_profiles[settings.quota_default_profile]
    sandbox.post("/_control/quota", {"profile": quota.as_youtube_limits(profile)})


# --- upload jobs whose earlier steps are done -------------------------------------------------------------
def upload_ready_job(store: InMemoryJobStore, blobs: MemoryBlobs, n: int, *, video: bytes, run: str) -> str:
    """A job at the upload step: script, render, thumbnail done with their artefacts in `blobs`."""
    job_id = f"{run}-job-{n:04d}"
    req = jobs.VideoRequest(customer_id="cust-pool", topic=f"Pool test video {n}")
    doc = jobs.new_job_document(job_id, req, datetime.now(UTC))
    script_uri = blobs.put_bytes(
        f"jobs/{job_id}/script.json",
        f'{{"title": "Pool test {run} {n}", "description": "d", "tags": ["t"]}}'.encode(),
    )
    video_uri = blobs.put_bytes(f"jobs/{job_id}/video.mp4", video)
    thumb_uri = blobs.put_bytes(f"jobs/{job_id}/thumbnail.jpg", b"\xff\xd8\xff\xe0" + video[:2048])
    outputs = {
        "script": {"script_uri": script_uri, "title": f"Pool test {run} {n}"},
        "render": {"video_uri": video_uri},
        "thumbnail": {"thumbnail_uri": thumb_uri},
        "quality": {"score": 0.9},
    }
    for step in ("script", "voice", "media", "thumbnail", "render", "quality"):
        doc["steps"][step].update(status="done", outputs=outputs.get(step, {}))
    doc["status"] = "running"
    store.create(doc)
    return job_id


@dataclass
class Delivery:
    """Deliver a step's task like Cloud Tasks: again on a 5xx, until acknowledged."""

    c: Container
    store: InMemoryJobStore
    queue: RecordingQueue
    max_attempts: int = 5
    responses: list[tuple[str, str, StepResponse]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, step: str, job_id: str, handler: Callable[..., Any] | None = None) -> StepResponse:
        from shared.steps import publish, upload

        handler = handler or {"upload": upload.run, "publish": publish.run}[step]
        policy = ChainPolicy(max_attempts=self.max_attempts, default_lease_s=0)
        for attempt in range(self.max_attempts):
            resp = run_step(
                step,
                job_id,
                retry_count=attempt,
                handler=lambda ctx: handler(ctx, self.c),
                store=self.store,
                queue=self.queue,
                policy=policy,
            )
            with self._lock:
                self.responses.append((step, job_id, copy.deepcopy(resp)))
            if resp.status == 200:
                return resp
        return resp


def new_run() -> str:
    return uuid.uuid4().hex[:6]


@dataclass
class DayResult:
    jobs: int
    uploaded: int
    deferred: int
    failed: int
    other: int
    deferred_until: set[str]
    elapsed_s: float
    responses: list[StepResponse]


def simulate_day(
    c: Container,
    store: InMemoryJobStore,
    blobs: MemoryBlobs,
    queue: RecordingQueue,
    *,
    jobs_n: int,
    workers: int,
    video: bytes,
    run: str,
) -> DayResult:
    """`jobs_n` upload jobs delivered by `workers` concurrent deliverers through the real upload step."""
    import time

    job_ids = [upload_ready_job(store, blobs, i, video=video, run=run) for i in range(jobs_n)]
    delivery = Delivery(c, store, queue)
    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        responses = list(pool.map(lambda j: delivery.run("upload", j), job_ids))
    elapsed = time.monotonic() - t0
    results = [r.body.get("result") for r in responses]
    return DayResult(
        jobs=jobs_n,
        uploaded=results.count("done"),
        deferred=results.count("deferred"),
        failed=results.count("failed"),
        other=sum(1 for r in results if r not in ("done", "deferred", "failed")),
        deferred_until={r.body["until"] for r in responses if r.body.get("result") == "deferred"},
        elapsed_s=elapsed,
        responses=responses,
    )

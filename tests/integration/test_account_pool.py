"""The account pool end to end below the chain: the real upload and publish steps, rotation, Firestore
ledger (emulator), google-api-python-client against the YouTube sandbox — which enforces quota per OAuth
client itself, so "no quotaExceeded" is measured by the other side. Tiny video files; no renders."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import functions_framework
import pytest
import requests

from infra.local.functions_host import MAIN
from infra.sandboxes.base import ServerThread
from infra.sandboxes.youtube import create_app
from shared import bootstrap
from shared.bootstrap import Container
from shared.youtube import oauth, quota
from shared.youtube.accounts import Account, next_pacific_midnight
from shared.youtube.tokens import TokenRecord
from tests.fakes import InMemoryJobStore, RecordingQueue
from tests.pool_harness import (
    CHUNK_BYTES,
    Delivery,
    DictSecrets,
    MemoryBlobs,
    Sandbox,
    configure_sandbox_quota,
    fleet_capacity,
    new_run,
    pool_settings,
    seed_fleet,
    seed_pool,
    simulate_day,
    upload_ready_job,
)

pytestmark = pytest.mark.integration
UPLOAD = "/upload/youtube/v3/videos"


@pytest.fixture(scope="module")
def sandbox():
    server = ServerThread(create_app()).start()
    yield Sandbox(server.url)
    server.stop()


class World:
    def __init__(self, firestore_host: str, sandbox: Sandbox, pools: int = 15, **overrides: Any) -> None:
        sandbox.post("/_control/reset")
        self.sandbox = sandbox
        self.settings = pool_settings(firestore_host, sandbox.url, pools=pools, **overrides)
        configure_sandbox_quota(sandbox, self.settings)
        self.secrets = DictSecrets()
        self.blobs = MemoryBlobs()
        self.store = InMemoryJobStore()
        self.queue = RecordingQueue()
        self.run = new_run()
        self.c = Container(
            self.settings, secrets=self.secrets, blobs=self.blobs, jobs=self.store, queue=self.queue
        )

    def clients(self) -> list[str]:
        return list(self.settings.youtube_oauth_clients.values())

    def our_videos(self) -> list[dict]:
        return [v for v in self.sandbox.videos() if f"Pool test {self.run} " in v["title"]]

    def job(self, job_id: str) -> dict[str, Any]:
        return self.store.docs[job_id]


@pytest.fixture
def world(firestore_emulator, sandbox):
    made: list[World] = []

    def make(**overrides: Any) -> World:
        made.append(World(firestore_emulator.host_port, sandbox, **overrides))
        return made[-1]

    yield make
    sandbox.post("/_control/quota", {"profile": quota.as_youtube_limits(quota.SEED_PROFILE)})


def video_bytes(size: int = 3000) -> bytes:
    return random.Random(size).randbytes(size)


# --- a simulated day ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("profile", "expected_capacity"), [("seed", 54), ("bucketed", 66)])
def test_a_simulated_day_uploads_exactly_the_capacity_and_defers_the_rest(world, profile, expected_capacity):
    w = world(quota_default_profile=profile)
    accounts = seed_pool(w.c, seed_fleet(12, 3))
    capacity = fleet_capacity(w.settings, accounts)
    # seed: 4 a pool by its upload category (7,000 units / 1,700 a video); bucketed: the caps bind (5/2)
    assert capacity == expected_capacity

    day = simulate_day(w.c, w.store, w.blobs, w.queue, jobs_n=100, workers=4, video=video_bytes(), run=w.run)

    assert (day.uploaded, day.deferred, day.failed, day.other) == (capacity, 100 - capacity, 0, 0)
    midnight = next_pacific_midnight(datetime.now(UTC))
    assert day.deferred_until == {midnight.isoformat()}
    rescheduled = [t for t in w.queue.tasks if t["step"] == "upload"]
    assert len(rescheduled) == 100 - capacity and {t["schedule_time"] for t in rescheduled} == {midnight}
    assert w.sandbox.quota_exceeded(w.clients()) == 0
    videos = w.our_videos()
    assert len(videos) == capacity and len({v["title"] for v in videos}) == capacity
    view = w.c.ledger.view()
    for name, pool in view.pools.items():
        assert quota.within_limits(w.c.ledger.profile(name), w.settings.quota_binding, pool.spent) == []
    per_account = {
        a.account_id: view.pool(a.pool, profile).videos_by_account.get(a.account_id, 0) for a in accounts
    }
    assert all(per_account[a.account_id] <= a.cap(w.settings) for a in accounts)


# --- faults ---------------------------------------------------------------------------------------------
class CrashAfterUpload:
    """The video reaches YouTube, then the function dies before the job records it (once)."""

    def __init__(self, inner: Any, title_part: str) -> None:
        self.inner = inner
        self.title_part = title_part
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upload(self, account_id, file_path, metadata, **kwargs):
        outcome = self.inner.upload(account_id, file_path, metadata, **kwargs)
        if self.title_part in metadata.title and not self.crashed:
            self.crashed = True
            raise ConnectionResetError("simulated crash after the upload finished")
        return outcome


def test_faults_in_the_sandbox_still_publish_every_job_exactly_once(world):
    w = world(rotation_spread=1, upload_limit_cooldown_s=24 * 3600)
    accounts = seed_pool(w.c, seed_fleet(12, 3))
    channel = {a.account_id: a.channel_id for a in accounts}
    revoked = TokenRecord.model_validate_json(w.secrets.get(w.settings.token_secret_prefix + "a0001"))
    w.sandbox.post("/_control/revoke", {"refresh_token": revoked.refresh_token})  # invalid_grant
    w.sandbox.post(
        "/_control/channel_faults",
        {"channel_id": channel["a0002"], "status": 400, "reason": "uploadLimitExceeded", "times": -1},
    )
    w.sandbox.post(  # the ledger thought there was quota; YouTube disagrees
        "/_control/channel_faults", {"channel_id": channel["a0003"], "status": 403, "reason": "quotaExceeded"}
    )
    crash = CrashAfterUpload(w.c.youtube, f"Pool test {w.run} 2")
    w.c.__dict__["youtube"] = crash
    size = 4 * CHUNK_BYTES
    jobs = [upload_ready_job(w.store, w.blobs, i, video=video_bytes(size), run=w.run) for i in range(5)]
    delivery = Delivery(w.c, w.store, w.queue)

    first = delivery.run("upload", jobs[0])  # a0001 revoked, a0002 limited, a0003 surprise quota -> a0004
    # a dropped connection at 40 % of the next upload: one chunk through, the second cut after 160 KiB
    w.sandbox.post("/_control/faults", {"match": f"PUT {UPLOAD}", "status": 200})
    w.sandbox.post("/_control/faults", {"match": f"PUT {UPLOAD}", "drop_after_bytes": 160 * 1024})
    dropped = delivery.run("upload", jobs[1])
    crashed = delivery.run("upload", jobs[2])  # crash after finishing: the redelivery finds the video
    rest = [delivery.run("upload", j) for j in jobs[3:]]
    published = [delivery.run("publish", j) for j in jobs]

    assert [r.body["result"] for r in (first, dropped, crashed, *rest, *published)] == ["done"] * 10
    tries = w.job(jobs[0])["steps"]["upload"]["outputs"]["tries"]
    assert [(t["account_id"], t["outcome"]) for t in tries] == [
        ("a0001", "needs_reauth (invalid_grant)"),
        ("a0002", "uploadLimitExceeded"),
        ("a0003", "quotaExceeded"),
    ]
    assert w.job(jobs[0])["account_id"] == "a0004"
    dropped_upload = w.job(jobs[1])["steps"]["upload"]
    assert dropped_upload["outputs"]["resumed"] is True and dropped_upload["attempts"] == 1  # same delivery
    assert w.job(jobs[2])["steps"]["upload"]["attempts"] == 2 and crash.crashed
    # every job published exactly once, on YouTube as in the job
    videos = {v["id"]: v for v in w.our_videos()}
    assert len(videos) == 5
    for job_id in jobs:
        doc = w.job(job_id)
        stored = videos[doc["youtube_video_id"]]
        assert doc["status"] == "published" and stored["bytes"] == size
        assert stored["thumbnail_bytes"] > 0 and stored["privacy_status"] == "public"
    sessions = [
        c for c in w.sandbox.calls() if c["method"] == "POST" and c["path"] == UPLOAD and c["status"] == 200
    ]
    assert len(sessions) == 5  # one session per job: nothing uploaded twice
    # the error matrix left its marks
    status = {a.account_id: a for a in w.c.accounts.list()}
    assert status["a0001"].status == "needs_reauth"
    assert status["a0002"].status == "cooling_down"
    assert status["a0002"].cooldown_until > datetime.now(UTC) + timedelta(hours=23)
    assert w.c.ledger.view().pools["p0003"].exhausted
    [note] = w.c.accounts.notifications()
    assert (note["account_id"], note["kind"]) == ("a0001", "account_needs_reauth")
    # failed calls were charged: the refused inserts 1 unit each
    assert w.c.ledger.view().pools["p0002"].spent[("units", "uploads")] >= 1


def test_auth_errors_are_retried_with_fresh_tokens_then_the_job_moves_on(world):
    w = world(rotation_spread=1)
    accounts = seed_pool(w.c, seed_fleet(3, 0))
    w.sandbox.post(
        "/_control/channel_faults",
        {"channel_id": accounts[0].channel_id, "status": 401, "reason": "authError", "times": -1},
    )
    job = upload_ready_job(w.store, w.blobs, 0, video=video_bytes(), run=w.run)
    token_calls_before = sum(1 for c in w.sandbox.calls() if c["path"] == "/token")

    resp = Delivery(w.c, w.store, w.queue).run("upload", job)

    assert resp.body["result"] == "done" and w.job(job)["account_id"] == "a0002"
    assert w.c.accounts.get("a0001").status == "needs_reauth"
    refreshes = sum(1 for c in w.sandbox.calls() if c["path"] == "/token") - token_calls_before
    assert refreshes >= w.settings.youtube_auth_attempts - 1  # refreshed between the tries


def test_a_token_endpoint_that_is_down_is_transient_not_a_revocation(world):
    w = world(rotation_spread=1, task_max_attempts=5)
    seed_pool(w.c, seed_fleet(1, 0))
    w.c.tokens.save(
        "a0001",
        w.c.tokens.load("a0001").model_copy(update={"expiry": datetime.now(UTC) - timedelta(seconds=5)}),
    )
    w.sandbox.post("/_control/faults", {"match": "POST /token", "status": 503, "times": 3})
    job = upload_ready_job(w.store, w.blobs, 0, video=video_bytes(), run=w.run)

    resp = Delivery(w.c, w.store, w.queue).run("upload", job)

    assert resp.body["result"] == "done"
    assert w.c.accounts.get("a0001").status == "healthy" and w.c.accounts.notifications() == []
    refused = [c for c in w.sandbox.calls() if c["path"] == "/token" and c["status"] == 503]
    assert len(refused) == 3  # the token store's 3 tries, then the upload's own retry succeeded
    spent = w.c.ledger.view().pools["p0001"].spent
    assert spent[("units", "uploads")] == 1700  # the video's reservation; no failed API call to charge


# --- OAuth onboarding -----------------------------------------------------------------------------------
def _doors(c: Container) -> dict[str, Any]:
    bootstrap.use(c)
    return {
        n: functions_framework.create_app(n, str(MAIN)).test_client()
        for n in ("oauth_start", "oauth_callback")
    }


def _firestore_state(w: World) -> tuple:
    prefix = w.settings.collection_prefix
    docs = tuple(
        sorted(
            (col, s.id, str(s.to_dict()))
            for col in ("accounts", "oauth_states", "notifications", "quota_ledgers")
            for s in w.c.firestore.collection(f"{prefix}{col}").stream()
        )
    )
    return docs, {k: len(v) for k, v in w.secrets.versions.items()}


def test_authorize_then_callback_then_upload_and_bad_states_are_refused(world):
    w = world(rotation_spread=1)
    doors = _doors(w.c)
    try:
        w.c.accounts.add(Account(account_id="fresh", pool="p0007", status="needs_reauth"))
        assert doors["oauth_start"].post("/", json={"account_id": "nobody"}).status_code == 404
        start = doors["oauth_start"].post("/", json={"account_id": "fresh"})
        assert start.status_code == 200, start.get_data(as_text=True)
        url = urlsplit(start.json["authorization_url"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert f"{url.scheme}://{url.netloc}{url.path}" == w.settings.youtube_auth_uri
        assert {
            "https://www.googleapis.com/auth/youtube.upload",
            "https://www.googleapis.com/auth/youtube.force-ssl",
        } <= set(query["scope"].split())
        assert (query["access_type"], query["prompt"], query["code_challenge_method"]) == (
            "offline",
            "consent",
            "S256",
        )
        assert query["client_id"] == w.settings.youtube_oauth_clients["p0007"]

        w.sandbox.post("/_control/consent", {"channel_id": f"UConboarded{w.run}", "title": "Owls Daily"})
        consent = requests.get(start.json["authorization_url"], allow_redirects=False, timeout=10)
        callback = urlsplit(consent.headers["Location"])
        answer = {k: v[0] for k, v in parse_qs(callback.query).items()}
        assert answer["state"] == query["state"]

        # tampered, missing, expired states: 400 and nothing written
        before = _firestore_state(w)
        tampered = answer["state"][:-2] + ("AA" if not answer["state"].endswith("AA") else "BB")
        expired = oauth.sign_state(
            w.settings, oauth.StatePayload("fresh", "n-expired", int(datetime.now(UTC).timestamp()) - 1)
        )
        for bad in (
            {**answer, "state": tampered},
            {"code": answer["code"]},
            {**answer, "state": expired},
            {**answer, "state": "garbage"},
            {"state": answer["state"], "error": "access_denied"},
        ):
            resp = doors["oauth_callback"].get("/", query_string=bad)
            assert resp.status_code == 400, (bad, resp.get_data(as_text=True))
        assert _firestore_state(w) == before

        done = doors["oauth_callback"].get("/", query_string=answer)
        assert done.status_code == 200, done.get_data(as_text=True)
        assert done.json == {
            "account_id": "fresh",
            "channel_id": f"UConboarded{w.run}",
            "pool": "p0007",
            "status": "authorized",
        }

        replay_before = _firestore_state(w)
        replayed = doors["oauth_callback"].get("/", query_string=answer)
        assert replayed.status_code == 400 and "already used" in replayed.json["error"]
        assert _firestore_state(w) == replay_before

        account = w.c.accounts.get("fresh")
        assert (account.status, account.channel_id) == ("healthy", f"UConboarded{w.run}")
        record = w.c.tokens.load("fresh")
        assert record.client_id == w.settings.youtube_oauth_clients["p0007"] and record.refresh_token
        assert "test-client-secret" not in w.secrets.get(w.settings.token_secret_prefix + "fresh")
        assert w.c.ledger.view().pools["p0007"].spent == {("units", "metadata"): 1}  # channels.list charged

        # and the new account uploads: a request for its channel goes to it
        job = upload_ready_job(w.store, w.blobs, 0, video=video_bytes(), run=w.run)
        w.store.docs[job]["request"]["channel_id"] = f"UConboarded{w.run}"
        assert Delivery(w.c, w.store, w.queue).run("upload", job).body["result"] == "done"
        [video] = w.our_videos()
        assert video["channel_id"] == f"UConboarded{w.run}" and w.job(job)["account_id"] == "fresh"
    finally:
        bootstrap.use(None)


def test_onboarding_refuses_to_sign_without_a_secret_and_disabled_accounts(world):
    w = world(oauth_state_secret="")
    doors = _doors(w.c)
    try:
        w.c.accounts.add(Account(account_id="nosecret"))
        assert doors["oauth_start"].post("/", json={"account_id": "nosecret"}).status_code == 503
        assert doors["oauth_callback"].get("/", query_string={"state": "a.b", "code": "c"}).status_code == 503
        assert doors["oauth_start"].post("/", json={"account_id": "Bad Id"}).status_code == 400
        assert doors["oauth_start"].get("/").status_code == 405
    finally:
        bootstrap.use(None)
    w2 = world()
    w2.c.accounts.add(Account(account_id="off", status="disabled"))
    with pytest.raises(oauth.OAuthRejected) as refused:
        oauth.start(w2.settings, w2.c.accounts.get("off"), datetime.now(UTC))
    assert refused.value.status == 409


# --- scheduled functions ---------------------------------------------------------------------------------
def _door(c: Container, name: str) -> Any:
    bootstrap.use(c)
    return functions_framework.create_app(name, str(MAIN)).test_client()


def test_token_refresh_refreshes_due_tokens_and_marks_revoked_accounts(world):
    w = world()
    seed_pool(
        w.c,
        [("r1-due", "active", "p0001"), ("r2-fresh", "active", "p0002"), ("r3-revoked", "active", "p0003")],
    )
    soon = datetime.now(UTC) + timedelta(seconds=120)
    for account_id in ("r1-due", "r3-revoked"):
        w.c.tokens.save(account_id, w.c.tokens.load(account_id).model_copy(update={"expiry": soon}))
    revoked = w.c.tokens.load("r3-revoked").refresh_token
    w.sandbox.post("/_control/revoke", {"refresh_token": revoked})
    door = _door(w.c, "token_refresh")
    try:
        report = door.post("/").json
        assert report == {
            "checked": 3,
            "refreshed": ["r1-due"],
            "needs_reauth": ["r3-revoked"],
            "failed_transient": [],
        }
        assert w.c.tokens.load("r1-due").expiry > datetime.now(UTC) + timedelta(minutes=50)
        assert w.c.accounts.get("r3-revoked").status == "needs_reauth"
        assert [n["account_id"] for n in w.c.accounts.notifications()] == ["r3-revoked"]

        # the token endpoint down for 3 tries: transient, retried next run, not a revocation
        w.c.tokens.save("r2-fresh", w.c.tokens.load("r2-fresh").model_copy(update={"expiry": soon}))
        w.sandbox.post("/_control/faults", {"match": "POST /token", "status": 503, "times": -1})
        report = door.post("/").json
        w.sandbox.post("/_control/reset")
        assert report["failed_transient"] == ["r2-fresh"] and report["needs_reauth"] == []
        assert w.c.accounts.get("r2-fresh").status == "healthy"
        assert door.post("/").json["refreshed"] == ["r2-fresh"]
    finally:
        bootstrap.use(None)


def test_analytics_sync_stores_channel_days_and_charges_the_analytics_category(world):
    w = world(analytics_lookback_days=3)
    seed_pool(w.c, seed_fleet(2, 0))
    w.c.accounts.put(Account(account_id="no-channel", pool="p0003"))  # not onboarded: skipped
    door = _door(w.c, "analytics_sync")
    try:
        report = door.post("/").json
    finally:
        bootstrap.use(None)
    assert report == {"channels": 2, "days_stored": 6, "skipped_no_quota": [], "failed": []}
    rows = w.c.channel_stats.for_account("a0001")
    assert len(rows) == 3 and all(r["views"] > 0 and "estimatedMinutesWatched" in r for r in rows)
    assert w.c.ledger.view().pools["p0001"].spent[("units", "analytics")] == 1


def test_quota_exceeded_everywhere_tries_fifteen_active_accounts_then_the_reserve(world):
    w = world(rotation_spread=1, pools=18)
    accounts = seed_pool(w.c, seed_fleet(17, 1))
    for a in accounts[:17]:  # YouTube refuses every active account's pool, whatever the ledger thinks
        w.sandbox.post(
            "/_control/channel_faults",
            {"channel_id": a.channel_id, "status": 403, "reason": "quotaExceeded", "times": -1},
        )
    job = upload_ready_job(w.store, w.blobs, 0, video=video_bytes(), run=w.run)

    resp = Delivery(w.c, w.store, w.queue).run("upload", job)

    assert resp.body["result"] == "done" and w.job(job)["account_id"] == "a0018"  # the reserve account
    tries = w.job(job)["steps"]["upload"]["outputs"]["tries"]
    assert [t["outcome"] for t in tries] == ["quotaExceeded"] * 15
    assert len({t["account_id"] for t in tries}) == 15
    exhausted = {name for name, p in w.c.ledger.view().pools.items() if p.exhausted}
    assert len(exhausted) == 15

    # the next job finds every pool closed (two active ones untried but refused too): deferred, not lost
    w.sandbox.post(
        "/_control/channel_faults",
        {"channel_id": accounts[17].channel_id, "status": 403, "reason": "quotaExceeded", "times": -1},
    )
    second = upload_ready_job(w.store, w.blobs, 1, video=video_bytes(), run=w.run)
    resp = Delivery(w.c, w.store, w.queue).run("upload", second)
    assert resp.body["result"] == "deferred"
    assert resp.body["until"] == next_pacific_midnight(datetime.now(UTC)).isoformat()
    assert w.job(second)["status"] == "deferred"


def test_a_refused_upload_fails_the_job_and_gives_its_reservation_back(world):
    w = world(rotation_spread=1)
    accounts = seed_pool(w.c, seed_fleet(1, 0))
    w.sandbox.post(
        "/_control/channel_faults",
        {"channel_id": accounts[0].channel_id, "status": 400, "reason": "invalidTitle"},
    )
    job = upload_ready_job(w.store, w.blobs, 0, video=video_bytes(), run=w.run)

    resp = Delivery(w.c, w.store, w.queue).run("upload", job)

    assert resp.body["result"] == "failed" and "invalidTitle" in resp.body["reason"]
    pool = w.c.ledger.view().pools["p0001"]
    assert pool.videos == 0 and pool.spent[("units", "uploads")] == 1  # the failed call's 1 unit


def test_a_transient_failure_on_the_last_attempt_gives_the_reservation_back(world):
    w = world(rotation_spread=1, youtube_upload_resume_attempts=0)
    seed_pool(w.c, seed_fleet(1, 0))
    w.sandbox.post("/_control/faults", {"match": f"POST {UPLOAD}", "status": 503, "times": -1})
    job = upload_ready_job(w.store, w.blobs, 0, video=video_bytes(), run=w.run)

    resp = Delivery(w.c, w.store, w.queue, max_attempts=2).run("upload", job)

    assert resp.body["result"] == "failed" and "gave up after 2 attempts" in resp.body["reason"]
    assert w.c.ledger.view().pools["p0001"].videos == 0  # nothing held for a job that failed
    assert w.c.accounts.get("a0001").status == "healthy"


def test_publish_charges_its_calls_and_defers_on_an_account_that_needs_reauthorisation(world):
    w = world(rotation_spread=1)
    accounts = seed_pool(w.c, seed_fleet(2, 0))
    jobs = [upload_ready_job(w.store, w.blobs, i, video=video_bytes(), run=w.run) for i in range(2)]
    delivery = Delivery(w.c, w.store, w.queue)
    assert [delivery.run("upload", j).body["result"] for j in jobs] == ["done", "done"]

    # the first video's thumbnail: a 401 that fresh tokens do not cure -> re-authorisation, publish waits
    first_channel = next(a.channel_id for a in accounts if a.account_id == w.job(jobs[0])["account_id"])
    w.sandbox.post(
        "/_control/channel_faults",
        {
            "channel_id": first_channel,
            "method": "thumbnails.set",
            "status": 401,
            "reason": "authError",
            "times": -1,
        },
    )
    waiting = delivery.run("publish", jobs[0])
    assert waiting.body["result"] == "deferred" and "re-authorisation" in waiting.body["reason"]
    assert w.c.accounts.get(w.job(jobs[0])["account_id"]).status == "needs_reauth"

    # the second video lost its reservation (say, a crash before it was saved): the emergency share pays
    w.store.docs[jobs[1]]["upload"]["reservation"] = None
    assert delivery.run("publish", jobs[1]).body["result"] == "done"
    pool = w.job(jobs[1])["upload"]["pool"]
    spent = w.c.ledger.view().pools[pool].spent
    assert spent[("units", "emergency")] == 100  # thumbnails.set 50 + videos.update 50
    assert delivery.run("publish", jobs[1]).body["result"] == "already done"  # a redelivery: no new call
    assert w.c.ledger.view().pools[pool].spent[("units", "emergency")] == 100

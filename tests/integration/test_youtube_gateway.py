"""GoogleYouTubeGateway and TokenStore against the YouTube sandbox, over real HTTP through
google-api-python-client, google-auth and httplib2 unchanged."""

from __future__ import annotations

import hashlib
import random
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from infra.sandboxes.base import ServerThread
from infra.sandboxes.youtube import create_app
from shared.config import Settings
from shared.ports import ProviderError, VideoMetadata
from shared.youtube.gateway import GoogleYouTubeGateway
from shared.youtube.tokens import TokenRecord, TokenStore

pytestmark = pytest.mark.integration

CHUNK_BYTES = 256 * 1024
VIDEO_BYTES = 1_000_000  # four chunks: 3 x 256 KiB + 213,568 bytes
CLIENT_SECRET = "sandbox-client-secret-do-not-leak"
UPLOAD = "/upload/youtube/v3/videos"
METADATA = VideoMetadata(title="Five facts about owls", description="Owls.", tags=["owls"])


class DictSecrets:
    """SecretStore fake: every put is a new version; get returns the latest."""

    def __init__(self) -> None:
        self.versions: dict[str, list[str]] = {}

    def get(self, name: str) -> str:
        if name not in self.versions:
            raise KeyError(name)
        return self.versions[name][-1]

    def put(self, name: str, value: str) -> None:
        self.versions.setdefault(name, []).append(value)


class Sandbox:
    def __init__(self, server: ServerThread) -> None:
        self.url = server.url

    def post(self, path: str, body: dict | None = None) -> dict:
        resp = requests.post(self.url + path, json=body or {}, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def get(self, path: str) -> dict:
        resp = requests.get(self.url + path, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def fault(self, **fault: object) -> None:
        self.post("/_control/faults", fault)

    def calls(self) -> list[tuple[str, str, int]]:
        return [(c["method"], c["path"], c["status"]) for c in self.get("/_control/calls")["calls"]]

    def videos(self, video_id: str | None = None, channel_id: str | None = None) -> list[dict]:
        return [
            v
            for v in self.get("/_control/videos")["videos"]
            if (video_id is None or v["id"] == video_id)
            and (channel_id is None or v["channel_id"] == channel_id)
        ]


@pytest.fixture(scope="module")
def server():
    thread = ServerThread(create_app()).start()
    yield thread
    thread.stop()


@pytest.fixture
def sandbox(server: ServerThread) -> Sandbox:
    box = Sandbox(server)
    box.post("/_control/reset")  # faults and call log; videos stay, so tests use their own accounts
    box.post("/_control/quota", {"reset": True})  # the sandbox enforces quota per OAuth client and day
    return box


@pytest.fixture
def settings(sandbox: Sandbox) -> Settings:
    return Settings(
        youtube_api_base_url=sandbox.url,
        youtube_upload_chunk_bytes=CHUNK_BYTES,
        youtube_client_id="sandbox-client",
        youtube_client_secret=SecretStr(CLIENT_SECRET),
        youtube_http_timeout_s=10,
    )


@pytest.fixture
def secrets() -> DictSecrets:
    return DictSecrets()


@pytest.fixture
def gateway(settings: Settings, secrets: DictSecrets) -> GoogleYouTubeGateway:
    return GoogleYouTubeGateway(settings, secrets)


@pytest.fixture
def account(settings: Settings, secrets: DictSecrets, sandbox: Sandbox) -> str:
    """A fresh account (its own refresh token, so its own channel) whose access token has expired."""
    account_id = "acct-" + uuid.uuid4().hex[:8]
    record = TokenRecord(
        refresh_token="1//rt-" + uuid.uuid4().hex,
        access_token="stale-access-token",
        expiry=datetime.now(UTC) - timedelta(hours=1),
        client_id="sandbox-client",
        token_uri=f"{sandbox.url}/token",
        scopes=["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube"],
    )
    secrets.put(settings.token_secret_prefix + account_id, record.model_dump_json())
    return account_id


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "video.mp4"
    path.write_bytes(random.Random(7).randbytes(VIDEO_BYTES))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_puts(calls: list[tuple[str, str, int]]) -> list[int]:
    return [status for method, path, status in calls if method == "PUT" and path == UPLOAD]


def never_called(uri: str) -> None:
    raise AssertionError(f"on_session must not be called, got {uri}")


# --- uploads --------------------------------------------------------------------------------------------
def test_a_chunked_upload_lands_whole_and_the_session_is_announced_before_the_first_byte(
    gateway: GoogleYouTubeGateway, account: str, video: Path, sandbox: Sandbox
) -> None:
    announced: list[tuple[str, list[tuple[str, str, int]]]] = []

    def on_session(uri: str) -> None:
        announced.append((uri, sandbox.calls()))  # what the sandbox had seen at that moment

    outcome = gateway.upload(account, video, METADATA, session_uri=None, on_session=on_session)

    assert outcome.resumed is False
    [stored] = sandbox.videos(outcome.video_id)
    assert stored["bytes"] == VIDEO_BYTES
    assert stored["sha256"] == sha256_of(video)
    assert stored["title"] == METADATA.title and stored["privacy_status"] == "private"
    # One session, announced once, after the initiation and before any media PUT.
    [(uri, seen)] = announced
    assert uri.startswith(f"{sandbox.url}{UPLOAD}?") and "upload_id=" in uri
    assert ("POST", UPLOAD, 200) in seen
    assert upload_puts(seen) == []
    assert upload_puts(sandbox.calls()) == [308, 308, 308, 200]  # several chunks, the last one completes


def test_a_dropped_connection_resumes_from_the_servers_offset_into_one_video(
    gateway: GoogleYouTubeGateway, account: str, video: Path, sandbox: Sandbox
) -> None:
    channel = gateway.channel_id(account)
    # The first chunk goes through, the second is cut after 128 KiB: 393,216 bytes stored (~39 %).
    sandbox.fault(match=f"PUT {UPLOAD}", status=200)
    sandbox.fault(match=f"PUT {UPLOAD}", drop_after_bytes=128 * 1024)
    sessions: list[str] = []

    with pytest.raises(ProviderError) as failure:
        gateway.upload(account, video, METADATA, session_uri=None, on_session=sessions.append)

    assert failure.value.transient is True
    assert isinstance(failure.value.__cause__, ConnectionError)  # the client saw the connection go
    assert sandbox.videos(channel_id=channel) == []
    sandbox.post("/_control/reset")

    outcome = gateway.upload(account, video, METADATA, session_uri=sessions[0], on_session=never_called)

    assert outcome.resumed is True
    [stored] = sandbox.videos(channel_id=channel)
    assert stored["id"] == outcome.video_id
    assert stored["bytes"] == VIDEO_BYTES and stored["sha256"] == sha256_of(video)
    # The status query, then the 606,784 missing bytes in three chunks: nothing sent twice (the
    # sandbox refuses a chunk that does not start at its offset), no second session opened.
    assert upload_puts(sandbox.calls()) == [308, 308, 308, 200]
    assert ("POST", UPLOAD, 200) not in sandbox.calls()


def test_a_retry_after_completion_returns_the_same_video_without_sending_bytes(
    gateway: GoogleYouTubeGateway, account: str, video: Path, sandbox: Sandbox
) -> None:
    sessions: list[str] = []
    first = gateway.upload(account, video, METADATA, session_uri=None, on_session=sessions.append)
    sandbox.post("/_control/reset")

    again = gateway.upload(account, video, METADATA, session_uri=sessions[0], on_session=never_called)

    assert again.video_id == first.video_id and again.resumed is True
    assert sandbox.calls() == [("PUT", UPLOAD, 200)]  # one empty status query, nothing else
    assert len(sandbox.videos(channel_id=gateway.channel_id(account))) == 1


def test_an_expired_session_is_replaced_by_a_new_one(
    gateway: GoogleYouTubeGateway, account: str, video: Path, sandbox: Sandbox
) -> None:
    gone = f"{sandbox.url}{UPLOAD}?uploadType=resumable&upload_id=expired-long-ago"
    sessions: list[str] = []

    outcome = gateway.upload(account, video, METADATA, session_uri=gone, on_session=sessions.append)

    assert outcome.resumed is False
    assert len(sessions) == 1 and sessions[0] != gone
    assert upload_puts(sandbox.calls())[0] == 404
    assert sandbox.videos(outcome.video_id)[0]["sha256"] == sha256_of(video)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(403, "quotaExceeded"), (400, "uploadLimitExceeded")],
)
def test_youtube_refusals_are_permanent_with_youtubes_reason(
    gateway: GoogleYouTubeGateway, account: str, video: Path, sandbox: Sandbox, status: int, reason: str
) -> None:
    sandbox.fault(match=f"POST {UPLOAD}", status=status, reason=reason)

    with pytest.raises(ProviderError) as failure:
        gateway.upload(account, video, METADATA, session_uri=None, on_session=never_called)

    assert (failure.value.transient, failure.value.reason, failure.value.provider) == (
        False,
        reason,
        "youtube",
    )
    assert upload_puts(sandbox.calls()) == []


def test_a_server_error_on_a_chunk_is_transient_and_the_session_survives(
    gateway: GoogleYouTubeGateway, account: str, video: Path, sandbox: Sandbox
) -> None:
    sandbox.fault(match=f"PUT {UPLOAD}", status=200)
    sandbox.fault(match=f"PUT {UPLOAD}", status=503)
    sessions: list[str] = []

    with pytest.raises(ProviderError) as failure:
        gateway.upload(account, video, METADATA, session_uri=None, on_session=sessions.append)
    assert failure.value.transient is True

    outcome = gateway.upload(account, video, METADATA, session_uri=sessions[0], on_session=never_called)
    assert outcome.resumed is True
    assert sandbox.videos(outcome.video_id)[0]["sha256"] == sha256_of(video)


def test_a_401_that_refreshing_does_not_cure_is_an_auth_error(
    gateway: GoogleYouTubeGateway, account: str, sandbox: Sandbox
) -> None:
    sandbox.fault(match="GET /youtube/v3/channels", status=401, reason="authError", times=-1)

    with pytest.raises(ProviderError) as failure:
        gateway.channel_id(account)

    assert (failure.value.transient, failure.value.reason) == (False, "authError")


# --- tokens ---------------------------------------------------------------------------------------------
def test_an_expired_token_is_refreshed_and_stored_back(
    gateway: GoogleYouTubeGateway, account: str, secrets: DictSecrets, settings: Settings, sandbox: Sandbox
) -> None:
    name = settings.token_secret_prefix + account
    before = TokenRecord.model_validate_json(secrets.get(name))

    gateway.channel_id(account)

    assert len(secrets.versions[name]) == 2
    after = TokenRecord.model_validate_json(secrets.get(name))
    assert after.access_token not in ("", before.access_token)
    assert after.expiry is not None and after.expiry > datetime.now(UTC) + timedelta(minutes=50)
    assert after.refresh_token == before.refresh_token
    assert CLIENT_SECRET not in secrets.get(name)
    # The stored token is used as is next time: no second refresh, no new version.
    gateway.channel_id(account)
    assert [c for c in sandbox.calls() if c[1] == "/token"] == [("POST", "/token", 200)]
    assert len(secrets.versions[name]) == 2


def test_a_token_expiring_within_the_buffer_is_refreshed_early(
    settings: Settings, secrets: DictSecrets, account: str, sandbox: Sandbox
) -> None:
    tokens = TokenStore(settings, secrets)
    valid = tokens.refresh(account)
    almost = valid.model_copy(update={"expiry": datetime.now(UTC) + timedelta(seconds=120)})
    tokens.save(account, almost)

    assert tokens.refresh_if_due(account) is True
    assert tokens.load(account).access_token != valid.access_token
    assert tokens.refresh_if_due(account) is False


@pytest.mark.parametrize("revocation", ["fault", "control"])
def test_a_revoked_refresh_token_is_a_permanent_invalid_grant(
    gateway: GoogleYouTubeGateway,
    account: str,
    secrets: DictSecrets,
    settings: Settings,
    sandbox: Sandbox,
    revocation: str,
) -> None:
    if revocation == "fault":
        sandbox.fault(match="POST /token", status=400, reason="invalid_grant")
    else:
        record = TokenRecord.model_validate_json(secrets.get(settings.token_secret_prefix + account))
        sandbox.post("/_control/revoke", {"refresh_token": record.refresh_token})

    with pytest.raises(ProviderError) as failure:
        gateway.channel_id(account)

    assert (failure.value.transient, failure.value.reason) == (False, "invalid_grant")
    assert [c for c in sandbox.calls() if c[1] == "/token"] == [("POST", "/token", 400)]  # not retried
    chain = f"{failure.value!r} {failure.value.__cause__!r}"
    assert CLIENT_SECRET not in chain


def test_an_unreachable_token_endpoint_is_transient_after_retries(
    settings: Settings, secrets: DictSecrets, account: str
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    name = settings.token_secret_prefix + account
    record = TokenRecord.model_validate_json(secrets.get(name))
    secrets.put(
        name,
        record.model_copy(update={"token_uri": f"http://127.0.0.1:{closed_port}/token"}).model_dump_json(),
    )

    with pytest.raises(ProviderError) as failure:
        TokenStore(settings, secrets).credentials(account)

    assert failure.value.transient is True
    assert failure.value.reason == "token_endpoint_unavailable"
    assert CLIENT_SECRET not in f"{failure.value!r} {failure.value.__cause__!r}"


# --- channels, thumbnails, metadata ---------------------------------------------------------------------
def test_channel_id_is_the_tokens_channel(
    gateway: GoogleYouTubeGateway, settings: Settings, secrets: DictSecrets, sandbox: Sandbox
) -> None:
    record = TokenRecord(
        refresh_token="1//registered-" + uuid.uuid4().hex, client_id="c", token_uri=f"{sandbox.url}/token"
    )
    secrets.put(settings.token_secret_prefix + "registered", record.model_dump_json())
    sandbox.post(
        "/_control/accounts",
        {
            "refresh_token": record.refresh_token,
            "channel_id": "UCregisteredChannel00001",
            "title": "Owls Daily",
        },
    )

    assert gateway.channel_id("registered") == "UCregisteredChannel00001"


def test_an_unregistered_refresh_token_maps_to_a_stable_channel(
    gateway: GoogleYouTubeGateway, account: str
) -> None:
    first = gateway.channel_id(account)
    assert first.startswith("UC") and len(first) == 24
    assert gateway.channel_id(account) == first


def test_publish_sets_the_thumbnail_and_the_metadata(
    gateway: GoogleYouTubeGateway, account: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    small = tmp_path / "short.mp4"
    small.write_bytes(random.Random(3).randbytes(300_000))
    thumbnail = tmp_path / "thumb.jpg"
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(4).randbytes(40_000))
    video_id = gateway.upload(
        account, small, METADATA, session_uri=None, on_session=lambda uri: None
    ).video_id

    gateway.set_thumbnail(account, video_id, thumbnail)
    gateway.update_metadata(
        account,
        video_id,
        VideoMetadata(title="Seven facts", description="More owls.", privacy_status="public"),
    )

    [stored] = sandbox.videos(video_id)
    assert stored["thumbnail_bytes"] == thumbnail.stat().st_size
    assert (stored["title"], stored["description"], stored["privacy_status"]) == (
        "Seven facts",
        "More owls.",
        "public",
    )


def test_a_thumbnail_for_another_channels_video_is_refused(
    gateway: GoogleYouTubeGateway,
    account: str,
    settings: Settings,
    secrets: DictSecrets,
    tmp_path: Path,
    sandbox: Sandbox,
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 1000)
    thumbnail = tmp_path / "thumb.jpg"
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0jpeg")
    video_id = gateway.upload(account, clip, METADATA, session_uri=None, on_session=lambda uri: None).video_id
    other = TokenRecord(
        refresh_token="1//other-" + uuid.uuid4().hex, client_id="c", token_uri=f"{sandbox.url}/token"
    )
    secrets.put(settings.token_secret_prefix + "other", other.model_dump_json())

    with pytest.raises(ProviderError) as failure:
        gateway.set_thumbnail("other", video_id, thumbnail)

    assert (failure.value.transient, failure.value.reason) == (False, "forbidden")

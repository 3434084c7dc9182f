"""Cloud Storage and Secret Manager adapters against the real emulators, and the emulator launcher
itself (Firestore reset, Cloud Tasks dispatch through the poll patch), over real connections."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.cloud import secretmanager

from infra.local.emulators import reset_firestore
from shared.config import Settings
from shared.gcp.secrets import SecretManagerStore, secret_manager_client
from shared.gcp.storage import GcsBlobStore
from tests.cloud_fixtures import EMULATOR_PROJECT

pytestmark = pytest.mark.integration

FIVE_MB = 5 * 1024 * 1024


# --- Cloud Storage -----------------------------------------------------------------------------------
@pytest.fixture
def blobs(storage_emulator) -> GcsBlobStore:
    # A fresh bucket per test: the adapter must create it on first write (emulator only).
    settings = Settings(
        storage_emulator_host=storage_emulator.host_port, media_bucket=f"media-{uuid.uuid4().hex}"
    )
    return GcsBlobStore(settings)


def test_put_and_get_bytes_round_trip(blobs):
    uri = blobs.put_bytes("jobs/j1/script.json", b'{"title": "Hi"}', "application/json")

    assert uri.startswith("gs://media-") and uri.endswith("/jobs/j1/script.json")
    assert blobs.exists(uri)
    assert blobs.get_bytes(uri) == b'{"title": "Hi"}'


def test_exists_is_false_for_an_absent_object_and_reads_raise_file_not_found(blobs, tmp_path):
    uri = blobs.put_bytes("jobs/j1/present.txt", b"x", "text/plain")
    absent = uri.replace("present.txt", "absent.txt")

    assert not blobs.exists(absent)
    with pytest.raises(FileNotFoundError, match=r"absent\.txt"):
        blobs.get_bytes(absent)
    with pytest.raises(FileNotFoundError):
        blobs.download_to(absent, tmp_path / "absent.txt")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial download


def test_a_5_mb_file_goes_up_and_comes_back_identical_in_chunks(storage_emulator, tmp_path):
    settings = Settings(
        storage_emulator_host=storage_emulator.host_port, media_bucket=f"media-{uuid.uuid4().hex}"
    )
    # 1 MiB chunks: the upload takes the resumable, multi-request path even for 5 MB.
    store = GcsBlobStore(settings, upload_chunk_bytes=1024 * 1024)
    source = tmp_path / "render.mp4"
    source.write_bytes(os.urandom(FIVE_MB))

    uri = store.put_file("jobs/j2/render.mp4", source, "video/mp4")
    copy = store.download_to(uri, tmp_path / "out" / "render.mp4")

    assert store.exists(uri)
    assert copy == tmp_path / "out" / "render.mp4"
    assert copy.stat().st_size == FIVE_MB
    assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    assert [p.name for p in copy.parent.iterdir()] == ["render.mp4"]  # no partial file left behind


def test_overwriting_an_object_keeps_the_latest_content(blobs):
    blobs.put_bytes("thumbs/t.jpg", b"old", "image/jpeg")
    uri = blobs.put_bytes("thumbs/t.jpg", b"new", "image/jpeg")
    assert blobs.get_bytes(uri) == b"new"


# --- Secret Manager ----------------------------------------------------------------------------------
@pytest.fixture
def sm_settings(secret_manager_emulator) -> Settings:
    return Settings(
        secretmanager_endpoint=secret_manager_emulator.url, project_id=f"p-{uuid.uuid4().hex[:12]}"
    )


def test_put_twice_keeps_only_the_newest_version_enabled(sm_settings):
    secrets = SecretManagerStore(sm_settings)

    secrets.put("youtube-token-acct1", '{"access_token": "first"}')
    secrets.put("youtube-token-acct1", '{"access_token": "second"}')

    assert secrets.get("youtube-token-acct1") == '{"access_token": "second"}'
    client = secret_manager_client(sm_settings)
    versions = client.list_secret_versions(parent=secrets.secret_path("youtube-token-acct1"))
    states = {v.name.rsplit("/", 1)[1]: v.state for v in versions}
    assert states == {
        "1": secretmanager.SecretVersion.State.DESTROYED,
        "2": secretmanager.SecretVersion.State.ENABLED,
    }


def test_get_of_an_unknown_secret_raises_key_error(sm_settings):
    with pytest.raises(KeyError):
        SecretManagerStore(sm_settings).get("youtube-token-nobody")


def test_values_round_trip_as_utf8(sm_settings):
    secrets = SecretManagerStore(sm_settings)
    secrets.put("notes", "clé ✓ 🔑")
    assert secrets.get("notes") == "clé ✓ 🔑"


def test_a_failed_put_does_not_quote_the_value(sm_settings):
    secrets = SecretManagerStore(sm_settings)
    with pytest.raises(ValueError) as err:
        secrets.put("bad/name", "s3cr3t-value")
    assert "s3cr3t-value" not in str(err.value)


# --- The launcher: Firestore reset, Cloud Tasks dispatch ------------------------------------------
def test_reset_firestore_deletes_every_document(clean_firestore, monkeypatch):
    from google.cloud import firestore

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", clean_firestore.host_port)
    db = firestore.Client(project=EMULATOR_PROJECT)
    db.collection("jobs").document("j1").set({"status": "queued"})
    assert db.collection("jobs").document("j1").get().exists

    reset_firestore(clean_firestore.host_port, EMULATOR_PROJECT)

    assert not db.collection("jobs").document("j1").get().exists


class _Recorder(BaseHTTPRequestHandler):
    """Answers each delivery with the next status of `statuses` (200 when none is left)."""

    statuses: list[int] = []
    deliveries: list[tuple[float, dict, dict]] = []
    arrived = threading.Event()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        # Header names arrive as urllib spells them ("X-cloudtasks-taskretrycount"): compare lowercased.
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.deliveries.append((time.monotonic(), headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if status == 200:
            self.arrived.set()

    def log_message(self, *args):
        pass


def test_tasks_emulator_dispatches_http_tasks_and_paces_retries(tasks_emulator):
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    _Recorder.statuses = [503, 503]
    _Recorder.deliveries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        channel = grpc.insecure_channel(tasks_emulator.host_port)
        client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
        parent = "projects/ytempire-local/locations/us-central1"
        queue = client.create_queue(parent=parent, queue={"name": f"{parent}/queues/launcher-test"})
        client.create_task(
            parent=queue.name,
            task={
                "name": f"{queue.name}/tasks/job1-render-0",
                "http_request": {
                    "url": f"http://127.0.0.1:{server.server_address[1]}/render",
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"job_id": "job1", "step": "render"}).encode(),
                },
            },
        )
        assert _Recorder.arrived.wait(10), "the task was never delivered successfully"
    finally:
        server.shutdown()

    times = [t for t, _, _ in _Recorder.deliveries]
    headers = [h for _, h, _ in _Recorder.deliveries]
    assert [h["x-cloudtasks-taskretrycount"] for h in headers] == ["0", "1", "2"]
    assert headers[0]["x-cloudtasks-taskname"] == "job1-render-0"
    assert _Recorder.deliveries[-1][2] == {"job_id": "job1", "step": "render"}
    # A failed task waits ~0.1 s before its retry instead of being retried on every 5 ms poll.
    assert all(later - earlier >= 0.09 for earlier, later in itertools.pairwise(times))

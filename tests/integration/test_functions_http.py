"""The HTTP doors through functions-framework's own app, against the Firestore and Tasks emulators:
bad input is a 4xx naming the problem and writes nothing; good input creates one job per key."""

from __future__ import annotations

import json

import functions_framework
import pytest

from infra.local.functions_host import MAIN
from shared import bootstrap
from shared.chain.jobs import new_job_id
from tests.billing_helpers import active_plan_events, deliver
from tests.fakes import RecordingQueue

pytestmark = pytest.mark.integration


@pytest.fixture()
def http(stack):
    queue = RecordingQueue()
    c = stack.container(queue=queue)
    bootstrap.use(c)
    clients = {
        name: functions_framework.create_app(name, str(MAIN)).test_client()
        for name in ("video_request", "job_status", "step_script", "stripe_webhook")
    }
    # The customer pays for a plan: its entitlements arrive as Stripe's signed events would.
    for evt in active_plan_events(GOOD["customer_id"]):
        assert (
            deliver(
                clients["stripe_webhook"], evt, c.settings.stripe_webhook_secret.get_secret_value()
            ).status_code
            == 200
        )
    yield clients, c, queue
    bootstrap.use(stack.container())


def _job_count(c) -> int:
    return len(c.jobs.list_jobs(500))


GOOD = {"customer_id": "cust-http", "topic": "How tides work"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"not json", 400, "body"),
        (b"[1, 2]", 400, "body"),
        (b"", 400, "body"),
        (json.dumps({"topic": "How tides work"}).encode(), 400, "customer_id"),
        (json.dumps({**GOOD, "topic": 42}).encode(), 400, "topic"),
        (json.dumps({**GOOD, "topic": "x" * 5000}).encode(), 400, "topic"),
        (json.dumps({**GOOD, "duration_s": "long"}).encode(), 400, "duration_s"),
        (json.dumps({**GOOD, "duration_s": 5}).encode(), 400, "duration_s"),
        (json.dumps({**GOOD, "quality": "ultra"}).encode(), 400, "quality"),
        (json.dumps({**GOOD, "surprise": 1}).encode(), 400, "surprise"),
        (json.dumps({**GOOD, "customer_id": "a b/c"}).encode(), 400, "customer_id"),
        (b"{" + b" " * 70000 + b"}", 413, "body"),
    ],
)
def test_video_request_rejects_bad_input_and_writes_nothing(http, body, status, field):
    clients, c, queue = http
    before = _job_count(c)
    resp = clients["video_request"].post("/", data=body, content_type="application/json")
    assert resp.status_code == status, resp.get_data(as_text=True)
    payload = resp.get_json()
    assert payload["field"] == field and field in payload["error"]
    assert _job_count(c) == before and queue.tasks == []


def test_video_request_wrong_method_is_405(http):
    clients, _, _ = http
    assert clients["video_request"].get("/").status_code == 405


def test_video_request_creates_one_job_per_idempotency_key(http, stack):
    clients, _, queue = http
    body = {**GOOD, "idempotency_key": "http-key-1", "duration_s": 45}
    first = clients["video_request"].post("/", json=body)
    again = clients["video_request"].post("/", json=body)
    assert first.status_code == 202 and again.status_code == 200
    job_id = first.get_json()["job_id"]
    assert again.get_json()["job_id"] == job_id == new_job_id("cust-http", "http-key-1")
    assert first.get_json()["status_url"] == f"{stack.functions['job_status']}?job_id={job_id}"
    assert [t["step"] for t in queue.tasks] == ["script"]  # the repeat was refused by task name
    view = clients["job_status"].get(f"/?job_id={job_id}").get_json()
    assert view["status"] == "queued" and view["request"]["duration_s"] == 45
    assert set(view["steps"]) >= {"script", "render", "upload"}


@pytest.mark.parametrize(
    ("query", "status"),
    [("", 400), ("?job_id=", 400), ("?job_id=../etc", 400), ("?job_id=doesnotexist", 404)],
)
def test_job_status_bad_or_unknown(http, query, status):
    clients, _, _ = http
    resp = clients["job_status"].get(f"/{query}")
    assert resp.status_code == status
    assert resp.get_json()["field"] == "job_id"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"job_id": "abc", "step": "voice"}, 400),  # wrong function for the step
        ({"job_id": "abc"}, 400),
        ({"job_id": "abc", "step": "script", "extra": 1}, 400),
        ({"job_id": "unknown-job", "step": "script"}, 404),
    ],
)
def test_step_task_validation(http, body, status):
    clients, _, _ = http
    resp = clients["step_script"].post("/", json=body)
    assert resp.status_code == status, resp.get_data(as_text=True)

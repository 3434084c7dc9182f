"""The chain engine's rules: idempotent deliveries, the join, failures, deferral, regeneration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.chain import jobs
from shared.chain.intake import RequestRejected, submit
from shared.chain.runner import (
    ChainPolicy,
    Deferred,
    PermanentFailure,
    Regenerate,
    TransientFailure,
    run_step,
)
from shared.config import STEPS, Settings
from shared.ports import ProviderError
from tests.fakes import InMemoryJobStore, RecordingQueue

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture()
def env():
    store, queue, clock = InMemoryJobStore(), RecordingQueue(), Clock()
    req = jobs.VideoRequest(customer_id="cust-1", topic="Why cats purr", idempotency_key="k1")
    doc, created = submit(req, store=store, queue=queue, settings=Settings(), now=clock)
    assert created
    return store, queue, clock, doc["job_id"]


def ok(cost: str = "0.01", **updates):
    return lambda ctx: jobs.StepOutput(
        outputs={"n": ctx.job["steps"]}, provider="fake", cost_usd=Decimal(cost), job_updates=updates
    )


def deliver(store, queue, clock, job_id, step, handler=None, retry=0, policy=None):
    return run_step(
        step,
        job_id,
        retry_count=retry,
        handler=handler or ok(),
        store=store,
        queue=queue,
        policy=policy or ChainPolicy(max_attempts=3, default_lease_s=60),
        now=clock,
    )


def drain(store, queue, clock, job_id, handlers=None, duplicate=False):
    """Deliver every queued task (twice each when `duplicate`) until the queue is empty."""
    handlers = handlers or {}
    seen = 0
    while queue.tasks:
        for t in queue.pop_all():
            for _ in range(2 if duplicate else 1):
                r = deliver(store, queue, clock, job_id, t["step"], handlers.get(t["step"]))
                assert r.status == 200, r.body
                seen += 1
        queue.names.clear() if duplicate else None
    return seen


def test_idempotency_key_returns_the_same_job_and_enqueues_script_once(env):
    store, queue, clock, job_id = env
    req = jobs.VideoRequest(customer_id="cust-1", topic="Why cats purr", idempotency_key="k1")
    doc, created = submit(req, store=store, queue=queue, settings=Settings(), now=clock)
    assert not created and doc["job_id"] == job_id
    assert queue.steps() == ["script"]  # the repeat's enqueue was refused by name


def test_limits_from_settings_reject_with_the_field():
    req = jobs.VideoRequest(customer_id="c", topic="x" * 50, duration_s=600)
    with pytest.raises(RequestRejected) as e:
        submit(req, store=InMemoryJobStore(), queue=RecordingQueue(), settings=Settings(topic_max_chars=20))
    assert e.value.field == "topic"
    with pytest.raises(RequestRejected) as e:
        submit(req, store=InMemoryJobStore(), queue=RecordingQueue(), settings=Settings(max_duration_s=300))
    assert e.value.field == "duration_s"


def test_whole_chain_runs_each_step_once_and_joins_once(env):
    store, queue, clock, job_id = env
    drain(store, queue, clock, job_id, {"publish": ok(status="published")})
    doc = store.get(job_id)
    assert doc["status"] == "published"
    assert all(doc["steps"][s]["status"] == "done" and doc["steps"][s]["attempts"] == 1 for s in STEPS)
    assert list(doc["joins"]) == ["g0"]
    assert jobs.from_micros(doc["total_cost_micros"]) == Decimal("0.09")


def test_every_task_delivered_twice_still_runs_each_step_once(env):
    store, queue, clock, job_id = env
    runs: dict[str, int] = {}

    def counting(step):
        def h(ctx):
            runs[step] = runs.get(step, 0) + 1
            return ok(**({"status": "published"} if step == "publish" else {}))(ctx)

        return h

    drain(store, queue, clock, job_id, {s: counting(s) for s in STEPS}, duplicate=True)
    assert runs == {s: 1 for s in STEPS}
    doc = store.get(job_id)
    assert doc["status"] == "published" and list(doc["joins"]) == ["g0"]


def test_join_enqueues_render_only_when_the_last_input_finishes(env):
    store, queue, clock, job_id = env
    drain_one = queue.pop_all()
    assert [t["step"] for t in drain_one] == ["script"]
    deliver(store, queue, clock, job_id, "script")
    assert sorted(queue.steps()) == ["media", "thumbnail", "voice"]
    queue.pop_all()
    deliver(store, queue, clock, job_id, "voice")
    deliver(store, queue, clock, job_id, "media")
    assert queue.steps() == []
    r = deliver(store, queue, clock, job_id, "thumbnail")
    assert r.body["enqueued"] == ["render"] and queue.steps() == ["render"]
    # a redelivered join input re-enqueues render (idempotent by name), never a second join
    queue.names.clear()
    queue.pop_all()
    r = deliver(store, queue, clock, job_id, "voice")
    assert r.body["result"] == "already done" and queue.steps() == ["render"]
    assert list(store.get(job_id)["joins"]) == ["g0"]


def test_step_whose_predecessors_are_not_done_is_ignored(env):
    store, queue, clock, job_id = env
    r = deliver(store, queue, clock, job_id, "render")
    assert r.status == 200 and r.body["result"].startswith("ignored")
    assert set(r.body["waiting_for"]) == {"voice", "media", "thumbnail"}
    assert store.get(job_id)["steps"]["render"]["attempts"] == 0


def test_unknown_job_is_404():
    r = run_step(
        "script",
        "nope",
        retry_count=0,
        handler=ok(),
        store=InMemoryJobStore(),
        queue=RecordingQueue(),
        policy=ChainPolicy(),
    )
    assert r.status == 404 and "nope" in r.body["error"]


def test_transient_failure_is_503_and_the_retry_claims_again(env):
    store, queue, clock, job_id = env

    def flaky(ctx):
        raise ProviderError("429 from provider", transient=True, provider="openai")

    r = deliver(store, queue, clock, job_id, "script", flaky)
    assert r.status == 503 and "openai" in r.body["reason"]
    st = store.get(job_id)["steps"]["script"]
    assert st["status"] == "pending" and "429" in st["error"]
    r = deliver(store, queue, clock, job_id, "script", retry=1)
    assert r.status == 200 and store.get(job_id)["steps"]["script"]["attempts"] == 2


def test_last_attempt_fails_the_job_with_reason_and_dead_letter(env):
    store, queue, clock, job_id = env

    def flaky(ctx):
        raise TransientFailure("tts 500")

    r = deliver(store, queue, clock, job_id, "script", flaky, retry=2)
    assert r.status == 200 and r.body["result"] == "failed"
    doc = store.get(job_id)
    assert doc["status"] == "failed" and doc["failure"]["step"] == "script"
    assert "gave up after 3 attempts: tts 500" in doc["failure"]["reason"]
    assert f"{job_id}-script" in store.dead_letters
    # later deliveries of anything for a failed job do nothing
    assert deliver(store, queue, clock, job_id, "script").body["result"] == "ignored: job failed"


def test_permanent_failure_fails_at_once(env):
    store, queue, clock, job_id = env

    def bad(ctx):
        raise PermanentFailure("topic refused by the model")

    r = deliver(store, queue, clock, job_id, "script", bad)
    assert r.status == 200 and store.get(job_id)["failure"]["reason"] == "topic refused by the model"


def test_unexpected_exception_is_500_then_fails_on_last_attempt(env):
    store, queue, clock, job_id = env

    def bug(ctx):
        raise KeyError("oops")

    assert deliver(store, queue, clock, job_id, "script", bug).status == 500
    assert deliver(store, queue, clock, job_id, "script", bug, retry=2).status == 200
    assert store.get(job_id)["status"] == "failed"


def test_concurrent_delivery_is_busy_until_the_lease_expires(env):
    store, queue, clock, job_id = env
    store.transact(job_id, lambda d: jobs.claim_step(d, "script", clock(), 60))  # another delivery holds it
    r = deliver(store, queue, clock, job_id, "script")
    assert r.status == 503 and r.headers["Retry-After"] == "60"
    clock.t += timedelta(seconds=61)  # that delivery died: its lease ran out
    assert deliver(store, queue, clock, job_id, "script").status == 200


def test_deferral_schedules_a_new_task_and_acknowledges(env):
    store, queue, clock, job_id = env
    queue.pop_all()
    until = T0 + timedelta(hours=10)

    def no_quota(ctx):
        raise Deferred(until, "quota exhausted until Pacific midnight")

    r = deliver(store, queue, clock, job_id, "script", no_quota)
    assert r.status == 200 and r.body["result"] == "deferred"
    assert queue.tasks[0]["schedule_time"] == until and queue.tasks[0]["task_id"].endswith(
        f"d{int(until.timestamp())}"
    )
    doc = store.get(job_id)
    assert doc["status"] == "deferred" and doc["steps"]["script"]["status"] == "deferred"
    assert deliver(store, queue, clock, job_id, "script").status == 200


def test_regeneration_happens_once_then_fails_with_reason(env):
    store, queue, clock, job_id = env
    drain(store, queue, clock, job_id, {"quality": _low_quality})
    doc = store.get(job_id)
    assert doc["status"] == "failed"
    assert doc["generation"] == 1 and doc["regenerations"] == 1
    assert "too short" in doc["failure"]["reason"] and "after regeneration" in doc["failure"]["reason"]
    assert set(doc["joins"]) == {"g0", "g1"}
    # both generations' spending is kept: 5 completed steps each (quality never completes)
    assert jobs.from_micros(doc["total_cost_micros"]) == Decimal("0.10")


def _low_quality(ctx):
    raise Regenerate("script too short: 20 words")


def test_step_may_not_write_arbitrary_job_fields(env):
    store, queue, clock, job_id = env
    with pytest.raises(ValueError, match="may not update"):
        deliver(store, queue, clock, job_id, "script", ok(customer_id="someone else"))


def test_public_view_is_json_safe_and_money_is_decimal_text(env):
    store, queue, clock, job_id = env
    drain(store, queue, clock, job_id)
    view = jobs.public_view(store.get(job_id))
    assert view["total_cost_usd"] == "0.090000"
    assert view["steps"]["script"]["cost_usd"] == "0.010000"
    assert view["created_at"] == T0.isoformat()


def test_task_ids_are_deterministic_and_distinct_per_generation():
    a = jobs.task_id("j1", "script", 0)
    assert a == jobs.task_id("j1", "script", 0)
    assert a != jobs.task_id("j1", "script", 1) != jobs.task_id("j1", "voice", 0)
    assert a.endswith("-j1-script-g0") and len(a.split("-")[0]) == 8

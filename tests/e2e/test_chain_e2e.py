"""The whole chain through Cloud Tasks (its emulator) on the local stack: real HTTP between every step,
real client libraries against the emulators and sandboxes, real ffmpeg and espeak-ng."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from shared import bootstrap, demo
from shared.chain import jobs
from shared.config import STEPS
from shared.content.quality import probe_media

pytestmark = pytest.mark.e2e
TIMEOUT_S = 420


def _wait(stack, job_ids: list[str], timeout_s: float = TIMEOUT_S) -> dict[str, dict[str, Any]]:
    return demo.follow(stack.functions, job_ids, timeout_s=timeout_s, poll_s=0.3)


def _youtube_videos(stack) -> list[dict[str, Any]]:
    return requests.get(f"{stack.sandbox('youtube')}/_control/videos", timeout=5).json()["videos"]


@pytest.fixture()
def seeded(stack):
    c = stack.container()
    bootstrap.use(c)
    demo.seed(c)
    stack.reset_sandboxes()
    yield c
    bootstrap.use(c)


def test_three_jobs_reach_published_with_valid_videos(stack, seeded, tmp_path: Path):
    before = {v["id"] for v in _youtube_videos(stack)}
    job_ids = demo.submit(stack.functions, 3, duration_s=20, run_id=f"e2e-{time.time_ns()}")
    views = _wait(stack, job_ids)
    assert {v["status"] for v in views.values()} == {"published"}, {k: v["failure"] for k, v in views.items()}

    uploaded = {v["id"]: v for v in _youtube_videos(stack) if v["id"] not in before}
    assert len(uploaded) == 3
    for job_id, view in views.items():
        local = seeded.blobs.download_to(
            view["steps"]["render"]["outputs"]["video_uri"], tmp_path / f"{job_id}.mp4"
        )
        probe = probe_media(local)
        narration_s = view["steps"]["voice"]["outputs"]["duration_s"]
        assert (probe.video_codec, probe.audio_codec) == ("h264", "aac")
        assert (probe.width, probe.height) == (1280, 720)
        assert abs(probe.duration_s - narration_s) <= 0.10 * narration_s
        # what YouTube stored is byte for byte the rendered file
        stored = uploaded[view["youtube_video_id"]]
        assert stored["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
        assert stored["thumbnail_bytes"] > 0
        assert all(s["status"] == "done" for s in view["steps"].values())
        assert float(view["total_cost_usd"]) > 0
        assert view["steps"]["voice"]["provider"].startswith("google-tts")
    # each job's owner is told once, and nothing was given up on
    notices = [n for n in seeded.jobs.outbox() if n["job_id"] in views]
    assert sorted(n["job_id"] for n in notices) == sorted(views)
    assert {n["youtube_video_id"] for n in notices} == {v["youtube_video_id"] for v in views.values()}
    assert not [d for d in seeded.jobs.dead_letters() if d["job_id"] in views]


class DuplicatingQueue:
    """Every enqueue is sent twice (the emulator does not dedupe names): at-least-once, taken literally."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def enqueue(self, step: str, job_id: str, *, task_id: str, schedule_time=None) -> bool:
        self.inner.enqueue(step, job_id, task_id=task_id, schedule_time=schedule_time)
        return self.inner.enqueue(step, job_id, task_id=task_id, schedule_time=schedule_time)


class CrashAfterCommitStore:
    """The step's completion is committed, then the function dies before enqueueing or answering."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.crashed: set[tuple[str, str]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transact(self, job_id: str, transition: Any) -> Any:
        result = self.inner.transact(job_id, transition)
        if isinstance(result, jobs.Completion) and not result.already_done:
            step = next(
                s
                for s in STEPS
                if result.doc["steps"][s]["status"] == "done"
                and (job_id, s) not in self.crashed
                and result.doc["steps"][s]["finished_at"] == result.doc["updated_at"]
            )
            self.crashed.add((job_id, step))
            raise ConnectionError(f"simulated crash after committing {step}")
        return result


class CrashAfterUploadYouTube:
    """The video reaches YouTube, then the function dies before the job records it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.crashes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upload(self, *args: Any, **kwargs: Any) -> Any:
        outcome = self.inner.upload(*args, **kwargs)
        if not outcome.resumed:
            self.crashes += 1
            raise ConnectionResetError("simulated crash after the upload finished")
        return outcome


def test_redelivery_and_crashes_still_give_one_upload_and_one_join_per_job(stack, seeded):
    base = stack.container()
    youtube = CrashAfterUploadYouTube(base.youtube)
    store = CrashAfterCommitStore(base.jobs)
    c = stack.container(queue=DuplicatingQueue(base.queue), jobs=store, youtube=youtube)
    bootstrap.use(c)
    before = {v["id"] for v in _youtube_videos(stack)}
    job_ids = demo.submit(stack.functions, 2, duration_s=15, run_id=f"redeliver-{time.time_ns()}")
    views = _wait(stack, job_ids)
    assert {v["status"] for v in views.values()} == {"published"}, {k: v["failure"] for k, v in views.items()}

    new_videos = [v for v in _youtube_videos(stack) if v["id"] not in before]
    assert len(new_videos) == 2, "each job uploaded exactly once"
    assert youtube.crashes == 2  # both uploads crashed once after finishing, and were recovered by resuming
    for job_id in job_ids:
        doc = base.jobs.get(job_id)
        assert list(doc["joins"]) == ["g0"], "render was joined exactly once"
        assert {s for (j, s) in store.crashed if j == job_id} == set(STEPS), (
            "every step crashed once after commit"
        )
        # each step did its work once, except upload, which ran again to find its finished session
        assert {s: doc["steps"][s]["attempts"] for s in STEPS} == {
            s: 2 if s == "upload" else 1 for s in STEPS
        }
        assert doc["youtube_video_id"] in {v["id"] for v in new_videos}

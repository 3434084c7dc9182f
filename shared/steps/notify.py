"""Step `notify`: a completion record in the outbox (an email sender drains it in a later issue)."""

from __future__ import annotations

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput, from_micros
from shared.chain.runner import StepContext
from shared.steps import output


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    key = f"{job['job_id']}-published"
    created = c.jobs.append_outbox(
        key,
        {
            "kind": "video_published",
            "job_id": job["job_id"],
            "customer_id": job["customer_id"],
            "from": c.settings.notify_from_email,
            "subject": f"Your video '{output(job, 'script', 'title')}' is ready!",
            "youtube_video_id": job["youtube_video_id"],
            "youtube_url": f"https://youtube.com/watch?v={job['youtube_video_id']}",
            "quality_score": output(job, "quality", "score"),
            "cost_usd": str(from_micros(job["total_cost_micros"])),
            "created_at": ctx.now(),
            "status": "pending",
        },
    )
    return StepOutput(
        outputs={"outbox_key": key, "new": created}, provider="outbox", job_updates={"notified": True}
    )

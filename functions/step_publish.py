"""Cloud Tasks target of the `publish` step: `{job_id, step}` in, the chain runner's status code out."""

from shared.doors import step_task
from shared.steps.publish import run


def handle(request):
    return step_task(request, "publish", run)

"""Cloud Tasks target of the `quality` step: `{job_id, step}` in, the chain runner's status code out."""

from shared.doors import step_task
from shared.steps.quality import run


def handle(request):
    return step_task(request, "quality", run)

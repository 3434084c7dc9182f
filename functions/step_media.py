"""Cloud Tasks target of the `media` step: `{job_id, step}` in, the chain runner's status code out."""

from shared.doors import step_task
from shared.steps.media import run


def handle(request):
    return step_task(request, "media", run)

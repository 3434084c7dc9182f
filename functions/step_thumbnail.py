"""Cloud Tasks target of the `thumbnail` step: `{job_id, step}` in, the chain runner's status code out."""

from shared.doors import step_task
from shared.steps.thumbnail import run


def handle(request):
    return step_task(request, "thumbnail", run)

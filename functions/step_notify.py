"""Cloud Tasks target of the `notify` step: `{job_id, step}` in, the chain runner's status code out."""

from shared.doors import step_task
from shared.steps.notify import run


def handle(request):
    return step_task(request, "notify", run)

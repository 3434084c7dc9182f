"""Cloud Tasks target of the `render` step: `{job_id, step}` in, the chain runner's status code out."""

from shared.doors import step_task
from shared.steps.render import run


def handle(request):
    return step_task(request, "render", run)

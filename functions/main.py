"""Every Cloud Function entry point. Each is a doorway: it imports its own module on first call, so a
function's cold start pays only for the clients it uses (see tests/bench/bench_cold_import.py)."""

from __future__ import annotations

import functions_framework


@functions_framework.http
def video_request(request):
    from functions import video_request as door

    return door.handle(request)


@functions_framework.http
def job_status(request):
    from functions import job_status as door

    return door.handle(request)


@functions_framework.http
def step_script(request):
    from functions import step_script as door

    return door.handle(request)


@functions_framework.http
def step_voice(request):
    from functions import step_voice as door

    return door.handle(request)


@functions_framework.http
def step_media(request):
    from functions import step_media as door

    return door.handle(request)


@functions_framework.http
def step_thumbnail(request):
    from functions import step_thumbnail as door

    return door.handle(request)


@functions_framework.http
def step_render(request):
    from functions import step_render as door

    return door.handle(request)


@functions_framework.http
def step_quality(request):
    from functions import step_quality as door

    return door.handle(request)


@functions_framework.http
def step_upload(request):
    from functions import step_upload as door

    return door.handle(request)


@functions_framework.http
def step_publish(request):
    from functions import step_publish as door

    return door.handle(request)


@functions_framework.http
def step_notify(request):
    from functions import step_notify as door

    return door.handle(request)


@functions_framework.http
def create_checkout(request):
    from functions import create_checkout as door

    return door.handle(request)


@functions_framework.http
def stripe_webhook(request):
    from functions import stripe_webhook as door

    return door.handle(request)


@functions_framework.http
def oauth_start(request):
    from functions import oauth_start as door

    return door.handle(request)


@functions_framework.http
def oauth_callback(request):
    from functions import oauth_callback as door

    return door.handle(request)


@functions_framework.http
def token_refresh(request):
    from functions import token_refresh as door

    return door.handle(request)


@functions_framework.http
def analytics_sync(request):
    from functions import analytics_sync as door

    return door.handle(request)

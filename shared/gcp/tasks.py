"""Task queue on Cloud Tasks: one queue per step, HTTP tasks carrying only `{job_id, step}`."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import duration_pb2, timestamp_pb2
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shared.chain.graph import entry_point, queue_id
from shared.config import Settings, function_url


def tasks_client(settings: Settings) -> tasks_v2.CloudTasksClient:
    if settings.tasks_emulator_host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(settings.tasks_emulator_host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return tasks_v2.CloudTasksClient()


class CloudTasksQueue:
    def __init__(self, client: tasks_v2.CloudTasksClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    def queue_path(self, step: str) -> str:
        s = self._settings
        return self._client.queue_path(s.project_id, s.region, queue_id(s.queue_prefix, step))

    @retry(
        retry=retry_if_exception_type(
            (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError)
        ),
        wait=wait_random_exponential(multiplier=0.1, max=2),
        stop=stop_after_attempt(4),
        reraise=True,
    )
    def enqueue(self, step: str, job_id: str, *, task_id: str, schedule_time: datetime | None = None) -> bool:
        parent = self.queue_path(step)
        http_request: dict = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": function_url(self._settings, entry_point(step)),
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"job_id": job_id, "step": step}).encode(),
        }
        if self._settings.tasks_invoker_service_account:
            http_request["oidc_token"] = {
                "service_account_email": self._settings.tasks_invoker_service_account,
                "audience": function_url(self._settings, entry_point(step)),
            }
        task: dict = {
            "name": f"{parent}/tasks/{task_id}",
            "http_request": http_request,
            # Cloud Tasks has no queue-level deadline: each task carries its step's.
            "dispatch_deadline": duration_pb2.Duration(seconds=self._settings.step_dispatch_deadline_s[step]),
        }
        if schedule_time is not None:
            ts = timestamp_pb2.Timestamp()
            ts.FromDatetime(schedule_time)
            task["schedule_time"] = ts
        try:
            self._client.create_task(parent=parent, task=task)
        except gexc.AlreadyExists:
            return False
        return True

    def ensure_queues(self, steps: tuple[str, ...]) -> None:
        """Create missing queues (local cloud only; Terraform owns them in production)."""
        s = self._settings
        location = f"projects/{s.project_id}/locations/{s.region}"
        existing = {q.name for q in self._client.list_queues(parent=location)}
        for step in steps:
            name = self.queue_path(step)
            if name not in existing:
                with contextlib.suppress(gexc.AlreadyExists):  # created meanwhile by another process
                    self._client.create_queue(parent=location, queue={"name": name})

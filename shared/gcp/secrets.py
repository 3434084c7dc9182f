"""Secret store on Secret Manager: one secret per name, the newest version is the value, older ones
are destroyed. No value ever appears in an exception or a log line.
"""

from __future__ import annotations

import contextlib
import re
from functools import cached_property

import google_crc32c
from google.api_core import exceptions as gexc
from google.cloud import secretmanager

from shared.config import Settings
from shared.gcp import TRANSIENT_API_ERRORS as _TRANSIENT
from shared.ports import ProviderError

_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def secret_manager_client(settings: Settings) -> secretmanager.SecretManagerServiceClient:
    if settings.secretmanager_endpoint:
        from google.auth.credentials import AnonymousCredentials

        # The emulator (drongo) speaks the REST API only.
        return secretmanager.SecretManagerServiceClient(
            transport="rest",
            client_options={"api_endpoint": settings.secretmanager_endpoint},
            credentials=AnonymousCredentials(),
        )
    return secretmanager.SecretManagerServiceClient()


def _version_number(version_name: str) -> int:
    return int(version_name.rsplit("/", 1)[1])


class SecretManagerStore:
    """`SecretStore` on Secret Manager, secrets in `settings.project_id`."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: secretmanager.SecretManagerServiceClient | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._settings = settings
        self._given_client = client
        self._timeout_s = timeout_s

    @cached_property
    def _client(self) -> secretmanager.SecretManagerServiceClient:
        return self._given_client or secret_manager_client(self._settings)

    def secret_path(self, name: str) -> str:
        if not _SECRET_ID.fullmatch(name):
            raise ValueError(f"invalid secret name {name!r}: use 1-255 letters, digits, '-' or '_'")
        return f"projects/{self._settings.project_id}/secrets/{name}"

    def get(self, name: str) -> str:
        """The newest enabled version's value; KeyError when the secret or an enabled version is absent."""
        secret = self.secret_path(name)
        try:
            try:
                response = self._client.access_secret_version(
                    name=f"{secret}/versions/latest", timeout=self._timeout_s
                )
            except gexc.FailedPrecondition:
                # "latest" is the newest version even when disabled or destroyed: look for an enabled one.
                enabled = self._enabled_versions(secret)
                if not enabled:
                    raise KeyError(name) from None
                response = self._client.access_secret_version(name=enabled[-1], timeout=self._timeout_s)
        except gexc.NotFound:
            raise KeyError(name) from None
        except gexc.GoogleAPICallError as err:
            raise _provider_error("access", name, err) from None
        data = response.payload.data
        if "data_crc32c" in response.payload and google_crc32c.value(data) != response.payload.data_crc32c:
            raise ProviderError(
                f"Secret Manager returned a corrupted payload for {name}",
                transient=True,
                provider="secretmanager",
                reason="checksum",
            )
        return data.decode("utf-8")

    def put(self, name: str, value: str) -> None:
        """Add a version (creating the secret if needed), then destroy every older enabled version."""
        secret = self.secret_path(name)
        data = value.encode("utf-8")
        payload = {"data": data, "data_crc32c": google_crc32c.value(data)}
        try:
            try:
                version = self._client.add_secret_version(
                    parent=secret, payload=payload, timeout=self._timeout_s
                )
            except gexc.NotFound:
                self._create_secret(name)
                version = self._client.add_secret_version(
                    parent=secret, payload=payload, timeout=self._timeout_s
                )
            newest = _version_number(version.name)
            for older in self._enabled_versions(secret):
                # Only older ones: a concurrent writer's newer version must survive.
                if _version_number(older) < newest:
                    self._destroy(older)
        except gexc.GoogleAPICallError as err:
            raise _provider_error("update", name, err) from None

    def ensure(self, name: str) -> None:
        """Create the secret (no version) if it does not exist: operators do this when they add a YouTube
        account, so the functions only ever need to add versions to existing token secrets."""
        self.secret_path(name)
        try:
            self._create_secret(name)
        except gexc.GoogleAPICallError as err:
            raise _provider_error("creation", name, err) from None

    def _create_secret(self, name: str) -> None:
        with contextlib.suppress(gexc.Conflict):  # AlreadyExists: created meanwhile by another instance
            self._client.create_secret(
                parent=f"projects/{self._settings.project_id}",
                secret_id=name,
                secret={"replication": {"automatic": {}}},
                timeout=self._timeout_s,
            )

    def _enabled_versions(self, secret: str) -> list[str]:
        """Names of the enabled versions, oldest first (filtered here too: not every server filters)."""
        versions = self._client.list_secret_versions(
            request={"parent": secret, "filter": "state:ENABLED"}, timeout=self._timeout_s
        )
        enabled = [v.name for v in versions if v.state == secretmanager.SecretVersion.State.ENABLED]
        return sorted(enabled, key=_version_number)

    def _destroy(self, version_name: str) -> None:
        # NotFound / FailedPrecondition: destroyed meanwhile by a concurrent writer.
        with contextlib.suppress(gexc.NotFound, gexc.FailedPrecondition):
            self._client.destroy_secret_version(name=version_name, timeout=self._timeout_s)


def _provider_error(operation: str, name: str, err: gexc.GoogleAPICallError) -> ProviderError:
    # The server's message is left out on purpose: only the status travels, never a payload.
    return ProviderError(
        f"Secret Manager {operation} of secret {name} failed: {err.code} {type(err).__name__}",
        transient=isinstance(err, _TRANSIENT),
        provider="secretmanager",
        reason=type(err).__name__,
    )

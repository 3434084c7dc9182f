"""Blob store on Cloud Storage: media and artefacts as `gs://bucket/path`, files streamed, never slurped.

Against the emulator (`settings.storage_emulator_host`) the client is anonymous and a missing bucket is
created on first write; in production Terraform creates the bucket and a missing one is an error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from google.api_core import exceptions as gexc
from google.cloud import storage

from shared.config import Settings
from shared.gcp import TRANSIENT_API_ERRORS as _TRANSIENT
from shared.ports import ProviderError

# Resumable uploads hold one chunk in memory (the library's default is 100 MiB); a multiple of 256 KiB.
UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024
# Streams of unknown size (provider downloads) go up in chunks of this size (a multiple of 256 KiB).
STREAM_CHUNK_BYTES = 1024 * 1024


def storage_client(settings: Settings) -> storage.Client:
    if settings.storage_emulator_host:
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=settings.project_id,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": _http_endpoint(settings.storage_emulator_host)},
        )
    return storage.Client(project=settings.project_id)


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """`gs://bucket/path/to/object` -> ("bucket", "path/to/object")."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket or not name:
        raise ValueError(f"not a gs://bucket/object URI: {uri!r}")
    return bucket, name


class GcsBlobStore:
    """`BlobStore` on Cloud Storage. `put_*` take an object path in the media bucket (or a gs:// URI)."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: storage.Client | None = None,
        timeout_s: float = 60.0,
        upload_chunk_bytes: int = UPLOAD_CHUNK_BYTES,
        stream_chunk_bytes: int = STREAM_CHUNK_BYTES,
    ) -> None:
        self._stream_chunk_bytes = stream_chunk_bytes
        self._settings = settings
        self._given_client = client
        self._timeout_s = timeout_s
        self._upload_chunk_bytes = upload_chunk_bytes
        self._create_missing_buckets = bool(settings.storage_emulator_host)
        self._known_buckets: set[str] = set()
        self._buckets_lock = threading.Lock()

    @cached_property
    def _client(self) -> storage.Client:
        return self._given_client or storage_client(self._settings)

    # --- BlobStore ---------------------------------------------------------------------------------
    def put_bytes(self, path: str, data: bytes, content_type: str) -> str:
        uri = self._uri(path)
        blob = self._blob_for_write(uri)
        try:
            blob.upload_from_string(data, content_type=content_type, timeout=self._timeout_s)
        except gexc.GoogleAPICallError as err:
            raise _provider_error("upload", uri, err) from err
        return uri

    def put_file(self, path: str, local_path: Path, content_type: str) -> str:
        uri = self._uri(path)
        blob = self._blob_for_write(uri)
        blob.chunk_size = self._upload_chunk_bytes
        try:
            blob.upload_from_filename(str(local_path), content_type=content_type, timeout=self._timeout_s)
        except gexc.GoogleAPICallError as err:
            raise _provider_error("upload", uri, err) from err
        return uri

    def put_stream(self, path: str, stream: BinaryIO, content_type: str) -> str:
        """A resumable upload fed from `stream` one chunk at a time: memory holds one chunk, whatever the
        object's size (a download from a provider streams straight through)."""
        uri = self._uri(path)
        blob = self._blob_for_write(uri)
        blob.chunk_size = self._stream_chunk_bytes
        try:
            blob.upload_from_file(stream, content_type=content_type, timeout=self._timeout_s)
        except gexc.GoogleAPICallError as err:
            raise _provider_error("upload", uri, err) from err
        return uri

    def get_bytes(self, uri: str) -> bytes:
        """The object's content; FileNotFoundError when there is no such object."""
        try:
            return self._blob(uri).download_as_bytes(timeout=self._timeout_s)
        except gexc.NotFound:
            raise FileNotFoundError(f"no object at {uri}") from None
        except gexc.GoogleAPICallError as err:
            raise _provider_error("download", uri, err) from err

    def download_to(self, uri: str, local_path: Path) -> Path:
        """Stream the object to `local_path` (complete or not at all); FileNotFoundError when absent."""
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=local_path.parent, prefix=f".{local_path.name}.", suffix=".part")
        os.close(fd)
        try:
            self._blob(uri).download_to_filename(partial, timeout=self._timeout_s)
            os.replace(partial, local_path)
        except gexc.NotFound:
            raise FileNotFoundError(f"no object at {uri}") from None
        except gexc.GoogleAPICallError as err:
            raise _provider_error("download", uri, err) from err
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return local_path

    def exists(self, uri: str) -> bool:
        try:
            return self._blob(uri).exists(timeout=self._timeout_s)
        except gexc.GoogleAPICallError as err:
            raise _provider_error("lookup", uri, err) from err

    # --- internals -----------------------------------------------------------------------------------
    def _uri(self, path: str) -> str:
        if path.startswith("gs://"):
            parse_gs_uri(path)
            return path
        name = path.lstrip("/")
        if not name:
            raise ValueError("empty object path")
        return f"gs://{self._settings.media_bucket}/{name}"

    def _blob(self, uri: str) -> storage.Blob:
        bucket, name = parse_gs_uri(uri)
        return self._client.bucket(bucket).blob(name)

    def _blob_for_write(self, uri: str) -> storage.Blob:
        bucket, _ = parse_gs_uri(uri)
        if self._create_missing_buckets:
            self._ensure_bucket(bucket)
        return self._blob(uri)

    def _ensure_bucket(self, bucket: str) -> None:
        """Emulator only: create the bucket the first time it is written to."""
        with self._buckets_lock:
            if bucket in self._known_buckets:
                return
            if self._client.lookup_bucket(bucket, timeout=self._timeout_s) is None:
                with contextlib.suppress(gexc.Conflict):  # created meanwhile by another instance
                    self._client.create_bucket(bucket, timeout=self._timeout_s)
            self._known_buckets.add(bucket)


def _http_endpoint(host: str) -> str:
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def _provider_error(operation: str, uri: str, err: gexc.GoogleAPICallError) -> ProviderError:
    return ProviderError(
        f"Cloud Storage {operation} of {uri} failed: {err.code} {type(err).__name__}",
        transient=isinstance(err, _TRANSIENT),
        provider="gcs",
        reason=type(err).__name__,
    )

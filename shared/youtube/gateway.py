"""The YouTubeGateway port on google-api-python-client: resumable uploads, thumbnails, channel lookups.

One service per call, on its own `httplib2.Http` (httplib2 is not thread-safe). With
`settings.youtube_api_base_url` set (the local sandbox), the static discovery document shipped with
googleapiclient is rewritten to that base, because the client derives upload URLs from `rootUrl`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build, build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from shared.config import Settings
from shared.ports import ProviderError, SecretStore, UploadOutcome, VideoMetadata
from shared.youtube.tokens import PROVIDER, TokenStore, refresh_failure

# Error reasons worth another try later, whatever their status code.
_TRANSIENT_REASONS = {"backendError", "internalError", "rateLimitExceeded", "userRateLimitExceeded"}
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


class GoogleYouTubeGateway:
    """YouTube Data API v3 for the accounts whose tokens `TokenStore` keeps."""

    def __init__(self, settings: Settings, secrets: SecretStore, *, tokens: TokenStore | None = None) -> None:
        self._settings = settings
        self._tokens = tokens or TokenStore(settings, secrets)

    # --- the port --------------------------------------------------------------------------------------
    def upload(
        self,
        account_id: str,
        file_path: Path,
        metadata: VideoMetadata,
        *,
        session_uri: str | None,
        on_session: Callable[[str], Any],
    ) -> UploadOutcome:
        """Resumable videos.insert. A given `session_uri` is asked for its state first: a finished
        session returns its video without sending a byte, a partial one continues from the server's
        offset, an expired one (404/410) is replaced by a new session. A new session's URI reaches
        `on_session` before the first media byte leaves."""
        http = self._http(account_id)
        size_bytes = Path(file_path).stat().st_size
        with _provider_errors(account_id, "videos.insert"):
            resume_from: int | None = None
            if session_uri:
                state = _query_session(http, session_uri, size_bytes)
                if isinstance(state, str):
                    return UploadOutcome(video_id=state, resumed=True)
                resume_from = state
        media = MediaFileUpload(
            str(file_path),
            mimetype="video/mp4",
            resumable=True,
            chunksize=self._settings.youtube_upload_chunk_bytes,
        )
        try:
            with _provider_errors(account_id, "videos.insert"):
                insert = self._service(http).videos().insert
                request = insert(part="snippet,status", body=_video_body(metadata), media_body=media)
                if resume_from is not None:
                    request.resumable_uri = session_uri
                    request.resumable_progress = resume_from
                    chunk_http: Any = http
                else:
                    chunk_http = _SessionAnnouncingHttp(http, on_session)
                response = None
                while response is None:
                    _, response = request.next_chunk(http=chunk_http)
        finally:
            media.stream().close()
        return UploadOutcome(video_id=response["id"], resumed=resume_from is not None)

    def set_thumbnail(self, account_id: str, video_id: str, image_path: Path) -> None:
        mimetype = _IMAGE_TYPES.get(Path(image_path).suffix.lower(), "image/jpeg")
        http = self._http(account_id)
        media = MediaFileUpload(str(image_path), mimetype=mimetype)
        try:
            with _provider_errors(account_id, "thumbnails.set"):
                self._service(http).thumbnails().set(videoId=video_id, media_body=media).execute()
        finally:
            media.stream().close()

    def channel_id(self, account_id: str) -> str:
        http = self._http(account_id)
        with _provider_errors(account_id, "channels.list"):
            found = self._service(http).channels().list(part="id,snippet", mine=True).execute()
        items = found.get("items") or []
        if not items:
            raise ProviderError(
                f"account {account_id} has no YouTube channel",
                transient=False,
                provider=PROVIDER,
                reason="noChannel",
            )
        return items[0]["id"]

    # --- beyond the port: the publish step's metadata edit ----------------------------------------------
    def update_metadata(self, account_id: str, video_id: str, metadata: VideoMetadata) -> None:
        """videos.update of snippet and status (title, description, tags, category, privacy)."""
        http = self._http(account_id)
        body = {"id": video_id, **_video_body(metadata)}
        with _provider_errors(account_id, "videos.update"):
            self._service(http).videos().update(part="snippet,status", body=body).execute()

    # --- YouTube Analytics v2 --------------------------------------------------------------------------
    def channel_report(
        self, account_id: str, *, start_date: str, end_date: str, metrics: str, dimensions: str = "day"
    ) -> dict[str, Any]:
        """reports.query for the account's own channel (`ids=channel==MINE`): the result table as
        {"columns": [...], "rows": [[...], ...]}."""
        http = self._http(account_id)
        with _provider_errors(account_id, "youtubeAnalytics.reports.query"):
            base_url = self._settings.youtube_analytics_base_url
            if base_url:
                service = build_from_document(
                    _discovery_document(base_url, "youtubeAnalytics", "v2"), http=http
                )
            else:
                service = build(
                    "youtubeAnalytics", "v2", http=http, static_discovery=True, cache_discovery=False
                )
            table = (
                service.reports()
                .query(
                    ids="channel==MINE",
                    startDate=start_date,
                    endDate=end_date,
                    metrics=metrics,
                    dimensions=dimensions,
                )
                .execute()
            )
        return {
            "columns": [c["name"] for c in table.get("columnHeaders", [])],
            "rows": table.get("rows") or [],
        }

    # --- plumbing --------------------------------------------------------------------------------------
    def _http(self, account_id: str) -> google_auth_httplib2.AuthorizedHttp:
        credentials: Credentials = self._tokens.credentials(account_id)
        http = httplib2.Http(timeout=self._settings.youtube_http_timeout_s)
        # To resumable uploads 308 means "resume incomplete", not a redirect (as in build_http()).
        http.redirect_codes = http.redirect_codes - {308}
        return google_auth_httplib2.AuthorizedHttp(credentials, http=http)

    def _service(self, http: Any) -> Any:
        base_url = self._settings.youtube_api_base_url
        if base_url:
            return build_from_document(_discovery_document(base_url), http=http)
        return build("youtube", "v3", http=http, static_discovery=True, cache_discovery=False)


@functools.lru_cache(maxsize=8)
def _discovery_document(base_url: str, api: str = "youtube", version: str = "v3") -> str:
    """A shipped discovery document (youtube v3 by default), pointed at `base_url` (uploads included)."""
    document = json.loads(get_static_doc(api, version))
    root = base_url.rstrip("/") + "/"
    document["rootUrl"] = root
    document["mtlsRootUrl"] = root
    document["baseUrl"] = root + document.get("servicePath", "")
    return json.dumps(document)


def _video_body(metadata: VideoMetadata) -> dict[str, Any]:
    return {
        "snippet": {
            "title": metadata.title,
            "description": metadata.description,
            "tags": list(metadata.tags),
            "categoryId": metadata.category_id,
        },
        "status": {"privacyStatus": metadata.privacy_status},
    }


def _query_session(http: Any, session_uri: str, size_bytes: int) -> str | int | None:
    """Ask an upload session for its state: the video id when finished, the byte offset to continue
    from when partial, None when the session is gone (expired sessions answer 404 or 410)."""
    resp, content = http.request(
        session_uri,
        "PUT",
        body=b"",
        headers={"Content-Range": f"bytes */{size_bytes}", "Content-Length": "0"},
    )
    if resp.status in (200, 201):
        return json.loads(content)["id"]
    if resp.status == 308:
        received = resp.get("range", "")
        return int(received.rsplit("-", 1)[1]) + 1 if received else 0
    if resp.status in (404, 410):
        return None
    raise HttpError(resp, content, uri=session_uri)


class _SessionAnnouncingHttp:
    """Passes requests through and hands the resumable session's `Location` to `on_session` as soon as
    the session-initiation response arrives, i.e. before next_chunk sends the first media byte."""

    def __init__(self, http: Any, on_session: Callable[[str], Any]) -> None:
        self._http = http
        self._on_session = on_session
        self._announced = False

    def request(self, uri: str, method: str = "GET", *args: Any, **kwargs: Any) -> tuple[Any, bytes]:
        resp, content = self._http.request(uri, method, *args, **kwargs)
        if not self._announced and method == "POST" and resp.status == 200 and "location" in resp:
            self._announced = True
            self._on_session(resp["location"])
        return resp, content


def _error_reason(exc: HttpError) -> str:
    try:
        return json.loads(exc.content)["error"]["errors"][0]["reason"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


@contextmanager
def _provider_errors(account_id: str, action: str) -> Iterator[None]:
    """Maps what the client libraries raise to ProviderError (transient or not, with YouTube's reason)."""
    try:
        yield
    except HttpError as exc:
        raise _http_failure(exc, account_id, action) from exc
    except (RefreshError, TransportError) as exc:  # a refresh inside AuthorizedHttp after a 401
        raise refresh_failure(exc, account_id) from exc
    except (OSError, httplib2.HttpLib2Error) as exc:  # dropped connection, timeout, refused
        raise ProviderError(
            f"{action} for account {account_id}: connection failed ({type(exc).__name__})",
            transient=True,
            provider=PROVIDER,
            reason="connectionError",
        ) from exc


def _http_failure(exc: HttpError, account_id: str, action: str) -> ProviderError:
    status = exc.status_code
    reason = "authError" if status == 401 else (_error_reason(exc) or f"http{status}")
    transient = status >= 500 or status == 429 or reason in _TRANSIENT_REASONS
    return ProviderError(
        f"{action} for account {account_id} failed: HTTP {status} {reason}",
        transient=transient,
        provider=PROVIDER,
        reason=reason,
    )

"""YouTube sandbox: the OAuth token endpoint and the parts of YouTube Data API v3 the project uses.

It speaks the real wire protocol (form-encoded token grants, bearer tokens, resumable uploads with 308
and `Range`, Google's error shape) so google-auth and google-api-python-client run against it unchanged.
Data lives in memory and survives `/_control/reset`. Besides the shared control surface (base.py):

POST /_control/accounts {"refresh_token", "channel_id", "title"}  bind a refresh token to a channel
POST /_control/revoke   {"refresh_token"}                          revoke it (and its access tokens)
POST /_control/expire_tokens                                       every issued access token expires now
GET  /_control/videos   {"videos": [{"id", "channel_id", "title", "bytes", "sha256", "thumbnail_bytes"}]}
POST /_control/consent  {"channel_id", "title"} | {"deny": true}   how the next authorisation is answered
POST /_control/channel_faults {"channel_id", "status", "reason", "times", "method"}  a fault for one
                         channel's calls (method: "videos.insert" by default; times -1 = until reset)
GET  /_control/quota    {"profile", "clients": {client_id: {"day", "used", "calls", "quota_exceeded"}},
                         "quota_exceeded": total}
POST /_control/quota    {"profile": {"buckets": {name: daily limit}, "costs": {method: [bucket, cost]},
                         "failed_call_cost": 1}, "reset": true}   set the quota profile / clear usage

Quota is enforced as YouTube does it: per OAuth client (the Google Cloud project), per Pacific-time day.
A call that would pass its bucket's daily limit is answered 403 quotaExceeded; a call made is charged
its cost, a failed one the failed-call cost. A resumable upload is charged when its session opens.
The authorization endpoint (`GET /o/oauth2/auth`) approves at once and redirects with a code; the token
endpoint checks that code's client, redirect URI and PKCE verifier (S256).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, jsonify, redirect, request
from werkzeug.http import parse_options_header

from infra.sandboxes.base import make_sandbox_app

ACCESS_TOKEN_TTL_S = 3600
DEFAULT_SCOPE = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube"
UPLOAD_PATH = "/upload/youtube/v3/videos"
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
_REASON_DOMAINS = {
    "quotaExceeded": "youtube.quota",
    "uploadLimitExceeded": "youtube.video",
    "rateLimitExceeded": "usageLimits",
    "userRateLimitExceeded": "usageLimits",
    "videoNotFound": "youtube.video",
    "forbidden": "youtube.thumbnail",
}
_REASON_MESSAGES = {
    "quotaExceeded": "The request cannot be completed because you have exceeded your quota.",
    "uploadLimitExceeded": "The user has exceeded the number of videos they may upload.",
    "authError": "Invalid Credentials",
    "invalid_grant": "Token has been expired or revoked.",
}
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")
PACIFIC = ZoneInfo("America/Los_Angeles")
CODE_TTL_S = 600
UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"

# YouTube's published costs (the seed's numbers): one 10,000-unit bucket per project and day.
DEFAULT_QUOTA: dict[str, Any] = {
    "buckets": {"units": 10_000},
    "costs": {
        "videos.insert": ["units", 1600],
        "videos.list": ["units", 1],
        "videos.update": ["units", 50],
        "thumbnails.set": ["units", 50],
        "channels.list": ["units", 1],
        "search.list": ["units", 100],
        "youtubeAnalytics.reports.query": ["units", 1],
    },
    "failed_call_cost": 1,
}


def google_error(status: int, reason: str, message: str) -> dict[str, Any]:
    """Google's API error shape as YouTube sends it: `errors[0].reason` plus a YouTube domain."""
    reason = reason or ("backendError" if status >= 500 else "badRequest")
    message = message or _REASON_MESSAGES.get(reason, reason)
    detail: dict[str, Any] = {
        "message": message,
        "domain": _REASON_DOMAINS.get(reason, "global"),
        "reason": reason,
    }
    if reason == "authError":
        detail.update(location="Authorization", locationType="header")
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"),
        }
    }


def oauth_error(status: int, reason: str, message: str) -> dict[str, str]:
    """The OAuth 2.0 token endpoint's error shape (RFC 6749 section 5.2)."""
    error = reason or ("server_error" if status >= 500 else "invalid_request")
    return {"error": error, "error_description": message or _REASON_MESSAGES.get(error, error)}


def _fault_body(status: int, reason: str, message: str) -> dict[str, Any]:
    # Runs inside the request context (base.py): the token endpoint answers in OAuth's shape.
    if request.path == "/token":
        return oauth_error(status, reason, message)
    return google_error(status, reason, message)


@dataclass
class _Session:
    upload_id: str
    channel_id: str
    part: str
    resource: dict[str, Any]
    total_bytes: int | None
    received_bytes: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    video_id: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Video:
    id: str
    channel_id: str
    snippet: dict[str, Any]
    status: dict[str, Any]
    size_bytes: int
    sha256: str
    thumbnail_bytes: int = 0


class YouTubeState:
    """Accounts, tokens, upload sessions and videos of the sandbox; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, tuple[str, str]] = {}  # refresh token -> (channel id, title)
        self.revoked: set[str] = set()
        self.access_tokens: dict[str, tuple[str, float]] = {}  # access token -> (refresh token, expires at)
        self.sessions: dict[str, _Session] = {}
        self.videos: dict[str, _Video] = {}
        self.clients: dict[str, str] = {}  # refresh token -> OAuth client id
        self.codes: dict[str, dict[str, Any]] = {}  # authorization code -> what it was issued for
        self.consents: list[dict[str, Any]] = []  # answers for the next authorisations, in order
        self.quota: dict[str, Any] = json.loads(json.dumps(DEFAULT_QUOTA))
        self.usage: dict[str, dict[str, Any]] = {}  # client id -> {"day", "used", "calls", ...}
        self.quota_exceeded = 0
        self.channel_faults: list[dict[str, Any]] = []

    def take_channel_fault(self, channel_id: str, method: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.channel_faults:
                if fault["channel_id"] == channel_id and fault.get("method", "videos.insert") == method:
                    if fault.get("times", 1) > 0:
                        fault["times"] = fault.get("times", 1) - 1
                        if fault["times"] == 0:
                            self.channel_faults.remove(fault)
                    return fault
        return None

    def client_of(self, token: str) -> str | None:
        with self.lock:
            entry = self.access_tokens.get(token)
            return self.clients.get(entry[0]) if entry else None

    def client_usage(self, client_id: str, day: str) -> dict[str, Any]:
        """Today's usage of a client (the lock held by the caller); a new Pacific day starts empty."""
        usage = self.usage.get(client_id)
        if usage is None or usage["day"] != day:
            usage = {"day": day, "used": {}, "calls": 0, "failed_calls": 0, "quota_exceeded": 0}
            self.usage[client_id] = usage
        return usage

    def channel_of(self, refresh_token: str) -> tuple[str, str]:
        with self.lock:
            if refresh_token in self.accounts:
                return self.accounts[refresh_token]
        digest = base64.urlsafe_b64encode(hashlib.sha256(refresh_token.encode()).digest()).decode()
        channel_id = "UC" + digest[:22]
        return channel_id, self.channel_title(channel_id)

    def channel_title(self, channel_id: str) -> str:
        with self.lock:
            for known_id, title in self.accounts.values():
                if known_id == channel_id:
                    return title
        return f"Sandbox channel {channel_id[-6:]}"

    def issue_access_token(self, refresh_token: str) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[token] = (refresh_token, time.time() + ACCESS_TOKEN_TTL_S)
        return token

    def channel_for_access_token(self, token: str) -> tuple[str, str] | None:
        with self.lock:
            entry = self.access_tokens.get(token)
            if entry is None or entry[1] <= time.time() or entry[0] in self.revoked:
                return None
        return self.channel_of(entry[0])

    def revoke(self, refresh_token: str) -> None:
        with self.lock:
            self.revoked.add(refresh_token)
            for token, (owner, _) in list(self.access_tokens.items()):
                if owner == refresh_token:
                    del self.access_tokens[token]

    def channel_video_count(self, channel_id: str) -> int:
        with self.lock:
            return sum(1 for v in self.videos.values() if v.channel_id == channel_id)


def _new_video_id() -> str:
    return secrets.token_urlsafe(9)[:11]


def _etag(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:27]


def _error(status: int, reason: str, message: str = "", headers: dict[str, str] | None = None) -> Response:
    resp = jsonify(google_error(status, reason, message))
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _read_exactly(stream: Any, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = stream.read(min(remaining, 1 << 20))
        if not data:
            break
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def _reset_connection(environ: dict[str, Any]) -> None:
    """Drop the client's TCP connection with a reset, before any response byte.

    A plain close would send FIN, which httplib2 answers by re-sending the request once on a new
    connection; a reset is a hard connection error, as a network failure mid-upload looks. The socket is
    closed by duplicating a dead socketpair end over its descriptor (atomic, so no other thread can
    reuse the number), so the server's own later writes fail quietly as a dropped connection.
    """
    sock = environ.get("werkzeug.socket")
    if sock is None:  # not a real connection (Flask's test client)
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    dead, peer = socket.socketpair()
    try:
        os.dup2(dead.fileno(), sock.fileno())
    finally:
        dead.close()
        peer.close()


def _split_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart/related body (google-api-python-client writes `\\n` line ends)."""
    boundary = parse_options_header(content_type)[1].get("boundary", "")
    if not boundary:
        return []
    parts: list[tuple[dict[str, str], bytes]] = []
    for raw in body.split(b"--" + boundary.encode())[1:]:
        if raw.startswith(b"--"):
            break
        raw = raw.removeprefix(b"\r\n").removeprefix(b"\n")
        head, sep, payload = raw.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = raw.partition(b"\n\n")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        elif payload.endswith(b"\n"):
            payload = payload[:-1]
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload))
    return parts


ANALYTICS_METRICS = frozenset(
    {
        "views",
        "estimatedMinutesWatched",
        "averageViewDuration",
        "subscribersGained",
        "subscribersLost",
        "likes",
        "shares",
        "comments",
    }
)


def _metric(name: str, channel_id: str, day: str, videos: int) -> int | float:
    """A stable, plausible figure for a channel's day: more videos, more views."""
    seed = int.from_bytes(hashlib.sha256(f"{channel_id}|{day}|{name}".encode()).digest()[:4], "big")
    views = (videos + 1) * (50 + seed % 200)
    figures: dict[str, int | float] = {
        "views": views,
        "estimatedMinutesWatched": views * 3,
        "averageViewDuration": round(120 + seed % 90 + 0.5, 1),
        "subscribersGained": views // 40,
        "subscribersLost": views // 400,
        "likes": views // 12,
        "shares": views // 60,
        "comments": views // 30,
    }
    return figures[name]


def create_app() -> Flask:
    app = make_sandbox_app("youtube", error_body=_fault_body)
    state = YouTubeState()
    app.extensions["youtube_state"] = state

    def clear_channel_faults() -> None:
        with state.lock:
            state.channel_faults.clear()

    app.extensions["sandbox_resets"].append(clear_channel_faults)  # POST /_control/reset clears them too

    # --- helpers bound to this app's state ----------------------------------------------------------
    def authenticated_channel() -> tuple[str, str] | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return state.channel_for_access_token(token.strip())

    def unauthorized() -> Response:
        return _error(
            401,
            "authError",
            "Request had invalid authentication credentials.",
            {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
        )

    def video_resource(video: _Video, part: str) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": "youtube#video",
            "etag": _etag(video.id, str(video.snippet), str(video.status)),
            "id": video.id,
        }
        wanted = {p.strip() for p in part.split(",") if p.strip()} or {"snippet", "status"}
        if "snippet" in wanted:
            resource["snippet"] = dict(video.snippet)
        if "status" in wanted:
            resource["status"] = dict(video.status)
        return resource

    def create_video(
        channel: tuple[str, str], metadata: dict[str, Any], data_sha256: str, size: int
    ) -> _Video:
        snippet_in = metadata.get("snippet") or {}
        status_in = metadata.get("status") or {}
        video_id = _new_video_id()
        base = request.host_url.rstrip("/")
        snippet = {
            "publishedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channelId": channel[0],
            "title": snippet_in.get("title") or "unknown",
            "description": snippet_in.get("description", ""),
            "tags": list(snippet_in.get("tags") or []),
            "categoryId": str(snippet_in.get("categoryId", "22")),
            "channelTitle": channel[1],
            "thumbnails": {
                "default": {"url": f"{base}/vi/{video_id}/default.jpg", "width": 120, "height": 90}
            },
        }
        status = {
            "uploadStatus": "uploaded",
            "privacyStatus": status_in.get("privacyStatus", "public"),
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
        }
        video = _Video(video_id, channel[0], snippet, status, size, data_sha256)
        with state.lock:
            state.videos[video_id] = video
        return video

    def metadata_problem(metadata: Any) -> Response | None:
        if not isinstance(metadata, dict):
            return _error(400, "parseError", "The request body is not a JSON object.")
        title = (metadata.get("snippet") or {}).get("title", "")
        if len(title) > 100 or "<" in title or ">" in title:
            return _error(400, "invalidTitle", "The request metadata specifies an invalid video title.")
        return None

    def finish_session(session: _Session) -> _Video:
        channel = (session.channel_id, state.channel_title(session.channel_id))
        video = create_video(channel, session.resource, session.hasher.hexdigest(), session.received_bytes)
        session.video_id = video.id
        return video

    def session_answer(session: _Session) -> Response:
        if session.video_id is not None:
            with state.lock:
                video = state.videos[session.video_id]
            return jsonify(video_resource(video, session.part))
        resp = Response(status=308)
        if session.received_bytes:
            resp.headers["Range"] = f"bytes=0-{session.received_bytes - 1}"
        return resp

    # --- OAuth 2.0 token endpoint --------------------------------------------------------------------
    def token_error(status: int, error: str, description: str) -> Response:
        resp = jsonify(oauth_error(status, error, description))
        resp.status_code = status
        return resp

    @app.post("/token")
    def token() -> Response:
        form = request.form
        if not form.get("client_id"):
            return token_error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type", "")
        scope = form.get("scope") or DEFAULT_SCOPE
        if grant_type == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            if not refresh_token:
                return token_error(400, "invalid_request", "Missing required parameter: refresh_token")
            with state.lock:
                revoked = refresh_token in state.revoked
                known_client = state.clients.setdefault(refresh_token, form["client_id"])
            if revoked:
                return token_error(400, "invalid_grant", "Token has been expired or revoked.")
            if known_client != form["client_id"]:
                return token_error(400, "unauthorized_client", "Unauthorized")
            body = {
                "access_token": state.issue_access_token(refresh_token),
                "expires_in": ACCESS_TOKEN_TTL_S,
                "token_type": "Bearer",
                "scope": scope,
            }
            return jsonify(body)
        if grant_type == "authorization_code":
            missing = [name for name in ("code", "code_verifier", "redirect_uri") if not form.get(name)]
            if missing:
                return token_error(400, "invalid_request", f"Missing required parameter: {missing[0]}")
            with state.lock:
                issued = state.codes.get(form["code"])
                if issued is None or issued["used"] or issued["expires_at"] <= time.time():
                    return token_error(400, "invalid_grant", "Malformed auth code.")
                if issued["client_id"] != form["client_id"]:
                    return token_error(400, "invalid_grant", "The code was issued to another client.")
                if issued["redirect_uri"] != form["redirect_uri"]:
                    return token_error(400, "redirect_uri_mismatch", "Bad Request")
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(form["code_verifier"].encode()).digest()
                ).rstrip(b"=")
                if challenge.decode() != issued["code_challenge"]:
                    return token_error(400, "invalid_grant", "Invalid code verifier.")
                issued["used"] = True
                refresh_token = "1//sandbox-" + secrets.token_urlsafe(30)
                state.clients[refresh_token] = issued["client_id"]
                if issued["channel"] is not None:
                    state.accounts[refresh_token] = issued["channel"]
            body = {
                "access_token": state.issue_access_token(refresh_token),
                "expires_in": ACCESS_TOKEN_TTL_S,
                "token_type": "Bearer",
                "scope": issued["scope"],
            }
            if issued["offline"]:
                body["refresh_token"] = refresh_token
            return jsonify(body)
        return token_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    # --- OAuth 2.0 authorization endpoint (approves at once) -------------------------------------------
    @app.get("/o/oauth2/auth")
    def authorize() -> Response:
        args = request.args
        required = ("client_id", "redirect_uri", "response_type", "scope", "code_challenge")
        missing = [name for name in required if not args.get(name)]
        if missing:
            return token_error(400, "invalid_request", f"Missing required parameter: {missing[0]}")
        if args["response_type"] != "code":
            return token_error(400, "unsupported_response_type", "Only response_type=code is supported.")
        if args.get("code_challenge_method") != "S256":
            return token_error(400, "invalid_request", "code_challenge_method must be S256.")
        target = urlsplit(args["redirect_uri"])
        if target.scheme not in ("http", "https") or not target.netloc:
            return token_error(400, "invalid_request", "Invalid redirect_uri.")
        scopes = args["scope"].split()
        if UPLOAD_SCOPE not in scopes:
            return token_error(400, "invalid_scope", f"The scopes do not include {UPLOAD_SCOPE}.")
        with state.lock:
            consent = state.consents.pop(0) if state.consents else {}
        answer: dict[str, str] = {}
        if args.get("state"):
            answer["state"] = args["state"]
        if consent.get("deny"):
            answer["error"] = "access_denied"
        else:
            code = "4/sandbox-" + secrets.token_urlsafe(24)
            channel = None
            if consent.get("channel_id"):
                channel = (
                    consent["channel_id"],
                    consent.get("title") or f"Sandbox channel {consent['channel_id'][-6:]}",
                )
            with state.lock:
                state.codes[code] = {
                    "client_id": args["client_id"],
                    "redirect_uri": args["redirect_uri"],
                    "code_challenge": args["code_challenge"],
                    "scope": " ".join(scopes),
                    "offline": args.get("access_type") == "offline",
                    "channel": channel,
                    "used": False,
                    "expires_at": time.time() + CODE_TTL_S,
                }
            answer.update(code=code, scope=" ".join(scopes))
        joiner = "&" if target.query else "?"
        return redirect(f"{args['redirect_uri']}{joiner}{urlencode(answer)}", code=302)

    # --- quota: per OAuth client and Pacific day ------------------------------------------------------
    def quota_gate(method: str) -> Response | None:
        """Refuse a call that would pass its bucket's daily limit; otherwise charge it after the answer.
        A channel fault for this call answers instead (charged as a failed call)."""
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        channel = state.channel_for_access_token(token.strip())
        fault = state.take_channel_fault(channel[0], method) if channel else None
        client = state.client_of(token.strip())
        if client is None:
            return None if fault is None else _error(int(fault.get("status", 500)), fault.get("reason", ""))
        day = datetime.now(PACIFIC).date().isoformat()
        with state.lock:
            bucket, cost = state.quota["costs"].get(method, ["units", 1])
            usage = state.client_usage(client, day)
            limit = state.quota["buckets"].get(bucket)
            if limit is not None and usage["used"].get(bucket, 0) + cost > limit:
                usage["quota_exceeded"] += 1
                state.quota_exceeded += 1
                return _error(403, "quotaExceeded")
        g.quota_charge = (client, day, bucket, int(cost))
        if fault is not None:
            return _error(int(fault.get("status", 500)), fault.get("reason", ""), fault.get("message", ""))
        return None

    @app.after_request
    def _charge_quota(resp: Response) -> Response:
        charge = g.get("quota_charge")
        if charge is not None:
            client, day, bucket, cost = charge
            failed = resp.status_code >= 400
            with state.lock:
                units = min(cost, int(state.quota.get("failed_call_cost", 1))) if failed else cost
                usage = state.client_usage(client, day)
                usage["used"][bucket] = usage["used"].get(bucket, 0) + units
                usage["calls"] += 1
                usage["failed_calls"] += int(failed)
        return resp

    # --- channels ------------------------------------------------------------------------------------
    @app.get("/youtube/v3/channels")
    def channels_list() -> Response:
        channel = authenticated_channel()
        if channel is None:
            return unauthorized()
        refused = quota_gate("channels.list")
        if refused is not None:
            return refused
        if not request.args.get("part"):
            return _error(400, "required", "No filter selected. Expected one of: mine, id, ...")
        wanted = [c for c in request.args.get("id", "").split(",") if c]
        items = []
        if request.args.get("mine") == "true" or channel[0] in wanted:
            items.append(
                {
                    "kind": "youtube#channel",
                    "etag": _etag(channel[0]),
                    "id": channel[0],
                    "snippet": {
                        "title": channel[1],
                        "description": "",
                        "customUrl": "@" + channel[0][-8:].lower(),
                    },
                    "statistics": {
                        "viewCount": "0",
                        "subscriberCount": "0",
                        "hiddenSubscriberCount": False,
                        "videoCount": str(state.channel_video_count(channel[0])),
                    },
                }
            )
        return jsonify(
            {
                "kind": "youtube#channelListResponse",
                "etag": _etag(*(i["id"] for i in items)),
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
                "items": items,
            }
        )

    # --- videos.insert (resumable, multipart, media) ---------------------------------------------------
    @app.post(UPLOAD_PATH)
    def videos_insert() -> Response:
        channel = authenticated_channel()
        if channel is None:
            return unauthorized()
        refused = quota_gate("videos.insert")
        if refused is not None:
            return refused
        part = request.args.get("part", "")
        if not part:
            return _error(400, "required", "Required parameter: part")
        upload_type = request.args.get("uploadType", "")
        if upload_type == "resumable":
            raw = request.get_data()
            metadata = request.get_json(force=True, silent=True) if raw else {}
            problem = metadata_problem(metadata)
            if problem is not None:
                return problem
            total = request.headers.get("X-Upload-Content-Length")
            upload_id = "sb-" + secrets.token_urlsafe(18)
            session = _Session(upload_id, channel[0], part, metadata, int(total) if total else None)
            with state.lock:
                state.sessions[upload_id] = session
            resp = Response(status=200)
            resp.headers["Location"] = (
                f"{request.host_url.rstrip('/')}{UPLOAD_PATH}?uploadType=resumable&upload_id={upload_id}"
            )
            resp.headers["X-GUploader-UploadID"] = upload_id
            return resp
        if upload_type == "multipart":
            parts = _split_multipart(request.get_data(), request.headers.get("Content-Type", ""))
            if len(parts) != 2:
                return _error(400, "badContent", "A multipart upload needs a metadata part and a media part.")
            try:
                metadata = json.loads(parts[0][1] or b"{}")
            except ValueError:
                return _error(400, "parseError", "The metadata part is not JSON.")
            data = parts[1][1]
        elif upload_type == "media":
            metadata, data = {}, request.get_data()
        else:
            return _error(400, "invalidParameter", f"Invalid uploadType: {upload_type}")
        problem = metadata_problem(metadata)
        if problem is not None:
            return problem
        video = create_video(channel, metadata, hashlib.sha256(data).hexdigest(), len(data))
        return jsonify(video_resource(video, part))

    @app.put(UPLOAD_PATH)
    def upload_session_put() -> Response:
        with state.lock:
            session = state.sessions.get(request.args.get("upload_id", ""))
        if session is None:
            return _error(404, "notFound", "The upload session was not found or has expired.")
        length = request.content_length or 0
        content_range = request.headers.get("Content-Range", "").strip()
        with session.lock:
            if not content_range:  # the whole (rest of the) media in one request
                start, end, total = session.received_bytes, session.received_bytes + length - 1, None
                if session.total_bytes is None:
                    total = session.received_bytes + length
            else:
                match = _CONTENT_RANGE.match(content_range)
                if match is None:
                    return _error(400, "badContent", f"Invalid Content-Range: {content_range}")
                first, last, total_text = match.groups()
                total = None if total_text == "*" else int(total_text)
                if first is None:  # "bytes */N": a status query
                    return session_answer(session)
                start, end = int(first), int(last)
            if session.video_id is not None:
                return session_answer(session)
            if total is not None:
                if session.total_bytes is not None and session.total_bytes != total:
                    return _error(400, "badContent", "Content-Range total does not match the upload length.")
                session.total_bytes = total
            if start != session.received_bytes:
                return _error(
                    400,
                    "badContent",
                    f"Content-Range starts at {start}; the session has {session.received_bytes} bytes.",
                )
            if length != end - start + 1:
                return _error(400, "badContent", "Content-Length does not match Content-Range.")
            if session.total_bytes is not None and end >= session.total_bytes:
                return _error(400, "badContent", "Content-Range goes past the end of the upload.")
            fault = g.fault
            drop_after = fault.drop_after_bytes if fault is not None else None
            data = _read_exactly(request.stream, length if drop_after is None else min(drop_after, length))
            if drop_after is None and len(data) != length:
                return _error(400, "badContent", "The request body is shorter than Content-Length.")
            session.hasher.update(data)
            session.received_bytes += len(data)
            if session.received_bytes == session.total_bytes:
                finish_session(session)
            if drop_after is not None:
                _reset_connection(request.environ)
                return Response(status=444)  # nginx's "closed without response"; only the call log sees it
            return session_answer(session)

    # --- videos.list / videos.update -------------------------------------------------------------------
    @app.get("/youtube/v3/videos")
    def videos_list() -> Response:
        channel = authenticated_channel()
        if channel is None:
            return unauthorized()
        refused = quota_gate("videos.list")
        if refused is not None:
            return refused
        part = request.args.get("part", "")
        if not part:
            return _error(400, "required", "Required parameter: part")
        ids = [v for v in request.args.get("id", "").split(",") if v]
        with state.lock:
            found = [state.videos[v] for v in ids if v in state.videos]
        visible = [
            v for v in found if v.channel_id == channel[0] or v.status.get("privacyStatus") != "private"
        ]
        items = [video_resource(v, part) for v in visible]
        return jsonify(
            {
                "kind": "youtube#videoListResponse",
                "etag": _etag(*ids),
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
        )

    @app.put("/youtube/v3/videos")
    def videos_update() -> Response:
        channel = authenticated_channel()
        if channel is None:
            return unauthorized()
        refused = quota_gate("videos.update")
        if refused is not None:
            return refused
        part = request.args.get("part", "")
        body = request.get_json(force=True, silent=True)
        if not part or not isinstance(body, dict) or not body.get("id"):
            return _error(400, "required", "Required: part and a video resource with an id.")
        with state.lock:
            video = state.videos.get(body["id"])
        if video is None:
            return _error(404, "videoNotFound", "The video that you are trying to update cannot be found.")
        if video.channel_id != channel[0]:
            return _error(403, "forbidden", "The video cannot be updated by this channel.")
        parts = {p.strip() for p in part.split(",")}
        if "snippet" in parts:
            snippet = body.get("snippet") or {}
            if not snippet.get("title") or not snippet.get("categoryId"):
                return _error(400, "invalidRequest", "snippet.title and snippet.categoryId are required.")
            problem = metadata_problem(body)
            if problem is not None:
                return problem
            with state.lock:
                video.snippet.update(
                    {k: snippet[k] for k in ("title", "description", "tags", "categoryId") if k in snippet}
                )
        if "status" in parts and isinstance(body.get("status"), dict):
            with state.lock:
                video.status.update({k: v for k, v in body["status"].items() if k != "uploadStatus"})
        return jsonify(video_resource(video, part))

    # --- thumbnails.set --------------------------------------------------------------------------------
    @app.post("/upload/youtube/v3/thumbnails/set")
    def thumbnails_set() -> Response:
        channel = authenticated_channel()
        if channel is None:
            return unauthorized()
        refused = quota_gate("thumbnails.set")
        if refused is not None:
            return refused
        with state.lock:
            video = state.videos.get(request.args.get("videoId", ""))
        if video is None:
            return _error(404, "videoNotFound", "The video that you are trying to update cannot be found.")
        if video.channel_id != channel[0]:
            return _error(403, "forbidden", "The authenticated user cannot set this video's thumbnail.")
        upload_type = request.args.get("uploadType", "")
        if upload_type == "multipart":
            parts = _split_multipart(request.get_data(), request.headers.get("Content-Type", ""))
            image = parts[-1][1] if parts else b""
        elif upload_type == "media":
            image = request.get_data()
        else:
            return _error(400, "invalidParameter", f"Invalid uploadType: {upload_type}")
        if not image:
            return _error(400, "mediaBodyRequired", "The request does not include the image content.")
        if len(image) > THUMBNAIL_MAX_BYTES:
            return _error(400, "mediaBodyTooBig", "The thumbnail image is larger than 2 MB.")
        with state.lock:
            video.thumbnail_bytes = len(image)
        base = f"{request.host_url.rstrip('/')}/vi/{video.id}"
        sizes = {"default": (120, 90), "medium": (320, 180), "high": (480, 360)}
        item = {
            name: {"url": f"{base}/{name}.jpg", "width": w, "height": h} for name, (w, h) in sizes.items()
        }
        return jsonify(
            {
                "kind": "youtube#thumbnailSetResponse",
                "etag": _etag(video.id, str(len(image))),
                "items": [item],
            }
        )

    # --- YouTube Analytics v2 reports.query ------------------------------------------------------------
    @app.get("/v2/reports")
    def analytics_reports() -> Response:
        channel = authenticated_channel()
        if channel is None:
            return unauthorized()
        refused = quota_gate("youtubeAnalytics.reports.query")
        if refused is not None:
            return refused
        args = request.args
        if args.get("ids") not in ("channel==MINE", f"channel=={channel[0]}"):
            return _error(403, "forbidden", "ids must be channel==MINE or the authorised channel.")
        try:
            start = date.fromisoformat(args.get("startDate", ""))
            end = date.fromisoformat(args.get("endDate", ""))
        except ValueError:
            return _error(400, "badRequest", "startDate and endDate are required (YYYY-MM-DD).")
        metrics = [m for m in args.get("metrics", "").split(",") if m]
        unknown = [m for m in metrics if m not in ANALYTICS_METRICS]
        if not metrics or unknown or end < start or (end - start).days > 366:
            return _error(400, "badRequest", f"Unknown or missing metrics {unknown}, or a bad date range.")
        if args.get("dimensions", "") not in ("", "day"):
            return _error(400, "badRequest", "This sandbox reports the dimension `day` only.")
        videos = state.channel_video_count(channel[0])
        rows: list[list[Any]] = []
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        if args.get("dimensions") == "day":
            for day in days:
                rows.append(
                    [day.isoformat(), *(_metric(m, channel[0], day.isoformat(), videos) for m in metrics)]
                )
        else:
            rows.append([sum(_metric(m, channel[0], d.isoformat(), videos) for d in days) for m in metrics])
        headers = (
            [{"name": "day", "columnType": "DIMENSION", "dataType": "STRING"}]
            if args.get("dimensions")
            else []
        )
        headers += [
            {
                "name": m,
                "columnType": "METRIC",
                "dataType": "FLOAT" if m == "averageViewDuration" else "INTEGER",
            }
            for m in metrics
        ]
        return jsonify({"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows})

    # --- control surface of this sandbox ---------------------------------------------------------------
    def control_body(*required: str) -> dict[str, Any] | Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or any(
            not isinstance(body.get(k), str) or not body[k] for k in required
        ):
            return Response(
                f'{{"error": "body must be a JSON object with strings {list(required)}"}}',
                400,
                mimetype="application/json",
            )
        return body

    @app.post("/_control/accounts")
    def control_accounts() -> Response:
        body = control_body("refresh_token", "channel_id")
        if isinstance(body, Response):
            return body
        title = body.get("title") or f"Sandbox channel {body['channel_id'][-6:]}"
        with state.lock:
            state.accounts[body["refresh_token"]] = (body["channel_id"], title)
            state.revoked.discard(body["refresh_token"])
        return jsonify({"ok": True})

    @app.post("/_control/revoke")
    def control_revoke() -> Response:
        body = control_body("refresh_token")
        if isinstance(body, Response):
            return body
        state.revoke(body["refresh_token"])
        return jsonify({"ok": True})

    @app.post("/_control/expire_tokens")
    def control_expire_tokens() -> Response:
        with state.lock:
            for token, (owner, _) in list(state.access_tokens.items()):
                state.access_tokens[token] = (owner, 0.0)
        return jsonify({"ok": True})

    @app.post("/_control/consent")
    def control_consent() -> Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not (
            body.get("deny") is True or isinstance(body.get("channel_id"), str)
        ):
            return Response(
                '{"error": "give {\\"channel_id\\", \\"title\\"} or {\\"deny\\": true}"}',
                400,
                mimetype="application/json",
            )
        with state.lock:
            state.consents.append(body)
        return jsonify({"ok": True, "pending": len(state.consents)})

    @app.post("/_control/channel_faults")
    def control_channel_faults() -> Response:
        body = control_body("channel_id")
        if isinstance(body, Response):
            return body
        with state.lock:
            state.channel_faults.append(dict(body))
        return jsonify({"ok": True})

    @app.get("/_control/quota")
    def control_quota_get() -> Response:
        with state.lock:
            return jsonify(
                {
                    "profile": state.quota,
                    "clients": json.loads(json.dumps(state.usage)),
                    "quota_exceeded": state.quota_exceeded,
                }
            )

    @app.post("/_control/quota")
    def control_quota_set() -> Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return Response('{"error": "body must be a JSON object"}', 400, mimetype="application/json")
        profile = body.get("profile")
        if profile is not None and not (
            isinstance(profile, dict)
            and isinstance(profile.get("buckets"), dict)
            and isinstance(profile.get("costs"), dict)
            and all(isinstance(v, list) and len(v) == 2 for v in profile["costs"].values())
        ):
            return Response(
                '{"error": "profile needs buckets {name: limit} and costs {method: [bucket, cost]}"}',
                400,
                mimetype="application/json",
            )
        with state.lock:
            if profile is not None:
                state.quota = {"failed_call_cost": 1, **profile}
            if body.get("reset"):
                state.usage.clear()
                state.quota_exceeded = 0
        return jsonify({"ok": True})

    @app.get("/_control/videos")
    def control_videos() -> Response:
        with state.lock:
            videos = [
                {
                    "id": v.id,
                    "channel_id": v.channel_id,
                    "title": v.snippet.get("title", ""),
                    "description": v.snippet.get("description", ""),
                    "tags": list(v.snippet.get("tags", [])),
                    "category_id": v.snippet.get("categoryId", ""),
                    "privacy_status": v.status.get("privacyStatus", ""),
                    "bytes": v.size_bytes,
                    "sha256": v.sha256,
                    "thumbnail_bytes": v.thumbnail_bytes,
                }
                for v in state.videos.values()
            ]
        return jsonify({"videos": videos})

    return app

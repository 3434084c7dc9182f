"""The YouTube sandbox through Flask's test client: control surface, token endpoint, upload protocol."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient

from infra.sandboxes.youtube import create_app

UPLOAD = "/upload/youtube/v3/videos"


@pytest.fixture
def client() -> FlaskClient:
    return create_app().test_client()


def access_token(client: FlaskClient, refresh_token: str = "1//rt-unit") -> str:
    resp = client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "c"}
    )
    assert resp.status_code == 200, resp.json
    return resp.json["access_token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_session(client: FlaskClient, token: str, size_bytes: int, title: str = "A video") -> str:
    resp = client.post(
        f"{UPLOAD}?part=snippet,status&uploadType=resumable",
        json={"snippet": {"title": title}, "status": {"privacyStatus": "private"}},
        headers={
            **auth(token),
            "X-Upload-Content-Length": str(size_bytes),
            "X-Upload-Content-Type": "video/mp4",
        },
    )
    assert resp.status_code == 200
    location = urlsplit(resp.headers["Location"])
    assert location.scheme == "http" and location.path == UPLOAD
    return f"{location.path}?{location.query}"


def put_chunk(client: FlaskClient, session: str, data: bytes, start: int, total: int):
    end = start + len(data) - 1
    return client.put(session, data=data, headers={"Content-Range": f"bytes {start}-{end}/{total}"})


def status_query(client: FlaskClient, session: str, total: int):
    return client.put(session, headers={"Content-Range": f"bytes */{total}"})


# --- control surface ----------------------------------------------------------------------------------
def test_a_fault_answers_its_times_then_stops(client: FlaskClient) -> None:
    token = access_token(client)
    client.post("/_control/faults", json={"match": "GET /youtube/v3/channels", "status": 503, "times": 2})

    statuses = [
        client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(token)).status_code
        for _ in range(3)
    ]

    assert statuses == [503, 503, 200]


def test_a_fault_only_hits_requests_it_matches(client: FlaskClient) -> None:
    token = access_token(client)
    client.post(
        "/_control/faults", json={"match": f"POST {UPLOAD}", "status": 403, "reason": "quotaExceeded"}
    )

    assert client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(token)).status_code == 200
    refused = client.post(f"{UPLOAD}?part=snippet&uploadType=resumable", json={}, headers=auth(token))
    assert refused.status_code == 403
    assert refused.json["error"]["errors"][0] == {
        "message": "The request cannot be completed because you have exceeded your quota.",
        "domain": "youtube.quota",
        "reason": "quotaExceeded",
    }


def test_upload_limit_fault_has_youtubes_video_domain(client: FlaskClient) -> None:
    token = access_token(client)
    client.post(
        "/_control/faults", json={"match": f"POST {UPLOAD}", "status": 400, "reason": "uploadLimitExceeded"}
    )

    refused = client.post(f"{UPLOAD}?part=snippet&uploadType=resumable", json={}, headers=auth(token))

    assert refused.status_code == 400
    error = refused.json["error"]["errors"][0]
    assert (error["reason"], error["domain"]) == ("uploadLimitExceeded", "youtube.video")


def test_a_token_endpoint_fault_speaks_oauth(client: FlaskClient) -> None:
    client.post("/_control/faults", json={"match": "POST /token", "status": 400, "reason": "invalid_grant"})

    resp = client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "rt", "client_id": "c"}
    )

    assert resp.status_code == 400
    assert resp.json == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def test_calls_are_logged_and_reset_keeps_the_videos(client: FlaskClient) -> None:
    token = access_token(client)
    session = open_session(client, token, 5)
    assert put_chunk(client, session, b"hello", 0, 5).status_code == 200
    client.post("/_control/faults", json={"match": "GET /", "status": 500, "times": -1})

    calls = [(c["method"], c["path"], c["status"]) for c in client.get("/_control/calls").json["calls"]]
    assert calls == [("POST", "/token", 200), ("POST", UPLOAD, 200), ("PUT", UPLOAD, 200)]

    client.post("/_control/reset")

    assert client.get("/_control/calls").json["calls"] == []
    assert client.get("/_control/faults").json["faults"] == []
    [video] = client.get("/_control/videos").json["videos"]
    assert (video["bytes"], video["sha256"]) == (5, hashlib.sha256(b"hello").hexdigest())
    assert client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(token)).status_code == 200


# --- tokens and channels --------------------------------------------------------------------------------
def authorize(client: FlaskClient, verifier: str = "v" * 43, **changes: str):
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": "c",
        "redirect_uri": "http://127.0.0.1/cb",
        "response_type": "code",
        "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube",
        "access_type": "offline",
        "prompt": "consent",
        "state": "opaque-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **changes,
    }
    return client.get(f"/o/oauth2/auth?{urlencode(query)}")


def test_refresh_and_authorization_code_grants(client: FlaskClient) -> None:
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "rt", "client_id": "c", "scope": "s1 s2"},
    ).json
    assert (refreshed["expires_in"], refreshed["token_type"], refreshed["scope"]) == (3600, "Bearer", "s1 s2")
    assert "refresh_token" not in refreshed

    approved = authorize(client)
    assert approved.status_code == 302
    target = urlsplit(approved.headers["Location"])
    answer = parse_qs(target.query)
    assert (target.netloc, target.path, answer["state"]) == ("127.0.0.1", "/cb", ["opaque-state"])
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"][0],
        "code_verifier": "v" * 43,
        "redirect_uri": "http://127.0.0.1/cb",
        "client_id": "c",
    }
    wrong_verifier = client.post("/token", data={**form, "code_verifier": "w" * 43})
    assert (wrong_verifier.status_code, wrong_verifier.json["error"]) == (400, "invalid_grant")
    exchanged = client.post("/token", data=form).json
    assert exchanged["refresh_token"] and exchanged["access_token"]
    replayed = client.post("/token", data=form)  # a code works once
    assert (replayed.status_code, replayed.json["error"]) == (400, "invalid_grant")
    missing = client.post("/token", data={**form, "code_verifier": ""})
    assert (missing.status_code, missing.json["error"]) == (400, "invalid_request")


def test_authorization_checks_its_request_and_can_be_denied(client: FlaskClient) -> None:
    assert authorize(client, code_challenge_method="plain").status_code == 400
    assert authorize(client, scope="https://www.googleapis.com/auth/youtube").json["error"] == "invalid_scope"
    online = parse_qs(urlsplit(authorize(client, access_type="online").headers["Location"]).query)
    form = {
        "grant_type": "authorization_code",
        "code": online["code"][0],
        "code_verifier": "v" * 43,
        "redirect_uri": "http://127.0.0.1/cb",
        "client_id": "c",
    }
    assert "refresh_token" not in client.post("/token", data=form).json  # no offline access asked

    client.post("/_control/consent", json={"deny": True})
    denied = parse_qs(urlsplit(authorize(client).headers["Location"]).query)
    assert denied == {"error": ["access_denied"], "state": ["opaque-state"]}


def test_quota_is_enforced_per_oauth_client_and_charged_per_call(client: FlaskClient) -> None:
    client.post(
        "/_control/quota",
        json={"profile": {"buckets": {"units": 3}, "costs": {"channels.list": ["units", 1]}}, "reset": True},
    )
    first = access_token(client, "1//client-a")
    other = client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "1//client-b", "client_id": "d"}
    ).json["access_token"]
    statuses = [
        client.get("/youtube/v3/channels?mine=true", headers=auth(first)).status_code for _ in range(2)
    ]
    statuses.append(client.get("/youtube/v3/channels", headers=auth(first)).status_code)  # 400: still 1 unit
    statuses.append(client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(first)).status_code)
    assert statuses == [400, 400, 400, 403]
    assert client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(other)).status_code == 200
    quota = client.get("/_control/quota").json
    assert quota["clients"]["c"]["used"] == {"units": 3} and quota["clients"]["c"]["quota_exceeded"] == 1
    assert quota["clients"]["d"]["used"] == {"units": 1} and quota["quota_exceeded"] == 1


def test_analytics_reports_by_day_for_the_authorised_channel(client: FlaskClient) -> None:
    token = access_token(client)
    query = "ids=channel==MINE&startDate=2026-01-01&endDate=2026-01-03&metrics=views,likes&dimensions=day"
    table = client.get(f"/v2/reports?{query}", headers=auth(token)).json
    assert [h["name"] for h in table["columnHeaders"]] == ["day", "views", "likes"]
    assert [r[0] for r in table["rows"]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert all(r[1] > 0 and r[2] >= 0 for r in table["rows"])
    assert client.get(f"/v2/reports?{query}", headers=auth(token)).json == table  # stable
    bad = client.get(f"/v2/reports?{query.replace('views', 'revenue')}", headers=auth(token))
    assert bad.status_code == 400
    other = client.get(f"/v2/reports?{query.replace('MINE', 'UCsomeoneElse')}", headers=auth(token))
    assert other.status_code == 403


def test_the_api_wants_a_live_bearer_token(client: FlaskClient) -> None:
    token = access_token(client)
    assert client.get("/youtube/v3/channels?part=id&mine=true").status_code == 401
    unknown = client.get("/youtube/v3/channels?part=id&mine=true", headers=auth("made-up"))
    assert unknown.status_code == 401
    assert unknown.json["error"]["errors"][0]["reason"] == "authError"

    client.post("/_control/expire_tokens")

    assert client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(token)).status_code == 401


def test_revocation_refuses_the_refresh_token_and_its_access_tokens(client: FlaskClient) -> None:
    token = access_token(client, "1//doomed")
    client.post("/_control/revoke", json={"refresh_token": "1//doomed"})

    assert client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(token)).status_code == 401
    resp = client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "1//doomed", "client_id": "c"}
    )
    assert (resp.status_code, resp.json["error"]) == (400, "invalid_grant")


def test_channels_are_registered_or_derived_from_the_refresh_token(client: FlaskClient) -> None:
    client.post(
        "/_control/accounts", json={"refresh_token": "1//known", "channel_id": "UCknown", "title": "Known"}
    )

    known = client.get(
        "/youtube/v3/channels?part=snippet&mine=true", headers=auth(access_token(client, "1//known"))
    )
    derived = client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(access_token(client, "1//x")))
    again = client.get("/youtube/v3/channels?part=id&mine=true", headers=auth(access_token(client, "1//x")))

    assert known.json["items"][0]["id"] == "UCknown"
    assert known.json["items"][0]["snippet"]["title"] == "Known"
    assert derived.json["items"][0]["id"] == again.json["items"][0]["id"]
    assert len(derived.json["items"][0]["id"]) == 24


# --- resumable upload protocol ----------------------------------------------------------------------------
def test_resumable_upload_answers_308_with_range_until_complete(client: FlaskClient) -> None:
    token = access_token(client)
    data = bytes(range(256)) * 40  # 10,240 bytes
    session = open_session(client, token, len(data))

    assert status_query(client, session, len(data)).status_code == 308
    assert "Range" not in status_query(client, session, len(data)).headers
    first = put_chunk(client, session, data[:4096], 0, len(data))
    assert (first.status_code, first.headers["Range"]) == (308, "bytes=0-4095")
    assert status_query(client, session, len(data)).headers["Range"] == "bytes=0-4095"
    gap = put_chunk(client, session, data[8192:], 8192, len(data))
    assert gap.status_code == 400  # a chunk must start at the session's offset
    assert put_chunk(client, session, data[4096:8192], 4096, len(data)).status_code == 308
    done = put_chunk(client, session, data[8192:], 8192, len(data))

    assert done.status_code == 200
    assert done.json["snippet"]["title"] == "A video" and done.json["status"]["uploadStatus"] == "uploaded"
    finished = status_query(client, session, len(data))
    assert (finished.status_code, finished.json["id"]) == (200, done.json["id"])
    [video] = client.get("/_control/videos").json["videos"]
    assert video["sha256"] == hashlib.sha256(data).hexdigest()


def test_an_unknown_session_is_not_found(client: FlaskClient) -> None:
    resp = status_query(client, f"{UPLOAD}?uploadType=resumable&upload_id=nope", 10)
    assert resp.status_code == 404


def test_a_drop_fault_stores_exactly_the_bytes_before_the_drop(client: FlaskClient) -> None:
    token = access_token(client)
    data = b"x" * 1000
    session = open_session(client, token, len(data))
    client.post("/_control/faults", json={"match": f"PUT {UPLOAD}", "drop_after_bytes": 300})

    dropped = put_chunk(client, session, data, 0, len(data))

    assert dropped.status_code == 444  # the test client has no socket to reset; real clients see a reset
    assert status_query(client, session, len(data)).headers["Range"] == "bytes=0-299"
    assert put_chunk(client, session, data[300:], 300, len(data)).status_code == 200


def test_videos_list_update_and_thumbnails(client: FlaskClient) -> None:
    token = access_token(client)
    session = open_session(client, token, 3)
    video_id = put_chunk(client, session, b"abc", 0, 3).json["id"]

    listed = client.get(f"/youtube/v3/videos?id={video_id},missing&part=status", headers=auth(token)).json
    assert [item["id"] for item in listed["items"]] == [video_id]
    assert "snippet" not in listed["items"][0] and listed["items"][0]["status"]["privacyStatus"] == "private"

    body = {"id": video_id, "snippet": {"title": "New title", "categoryId": "27", "tags": ["a"]}}
    updated = client.put("/youtube/v3/videos?part=snippet", json=body, headers=auth(token))
    assert updated.status_code == 200 and updated.json["snippet"]["title"] == "New title"

    thumb = client.post(
        f"/upload/youtube/v3/thumbnails/set?videoId={video_id}&uploadType=media",
        data=b"\xff\xd8jpeg",
        headers={**auth(token), "Content-Type": "image/jpeg"},
    )
    assert thumb.status_code == 200 and set(thumb.json["items"][0]) == {"default", "medium", "high"}
    [video] = client.get("/_control/videos").json["videos"]
    assert (video["title"], video["category_id"], video["thumbnail_bytes"]) == ("New title", "27", 6)


def test_multipart_insert_as_google_api_python_client_writes_it(client: FlaskClient) -> None:
    token = access_token(client)
    media = b"\x00\x01binary\n--not-a-boundary\r\n\xff"
    body = (
        b'--===b==\nContent-Type: application/json\nMIME-Version: 1.0\n\n{"snippet": {"title": "Multi"}}\n'
        b"--===b==\nContent-Type: video/mp4\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n"
        + media
        + b"\n--===b==--"
    )

    resp = client.post(
        f"{UPLOAD}?part=snippet&uploadType=multipart",
        data=body,
        headers={**auth(token), "Content-Type": 'multipart/related; boundary="===b=="'},
    )

    assert resp.status_code == 200 and resp.json["snippet"]["title"] == "Multi"
    [video] = client.get("/_control/videos").json["videos"]
    assert video["sha256"] == hashlib.sha256(media).hexdigest()

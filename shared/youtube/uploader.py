"""Uploading and publishing through the account pool, with the seed's error matrix. Plain domain code:
every collaborator is passed in (accounts, ledger, rotation, gateway, tokens); the steps are the glue.

Upload (Uploader.run), exactly once:
* A saved session is resumed on its own account (`Content-Range: bytes */N` first): a redelivered task
  after a crash continues the bytes, or records the finished video, and never opens a second session.
* Otherwise accounts are tried in rotation order. Each try first reserves the video in the ledger
  (account slot + pool slot), saves account and reservation on the job, then uploads; the session URI
  is saved before the first byte.
* quotaExceeded (403): the pool is exhausted for the Pacific day, next account; up to
  `rotation_max_tries` active accounts, then the reserve accounts, then the job is deferred to the next
  Pacific midnight. uploadLimitExceeded (400): that account cools down 24 h, next account.
  Auth errors: refresh and retry (`youtube_auth_attempts`), then the account needs re-authorisation,
  the operator is told and the job moves on to the next account. invalid_grant: the same, at once.
  5xx / dropped connection: the same session is resumed (`youtube_upload_resume_attempts` in this
  delivery, then by the task's retries). A token endpoint that is down is transient, never revocation.
* Every call made is charged: a successful one its cost, a failed one the failed-call cost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.log import get_logger, log_context
from shared.ports import ProviderError, UploadOutcome, VideoMetadata
from shared.youtube.accounts import Account, next_pacific_midnight, pacific_day
from shared.youtube.ledger import QuotaLedger, QuotaUnavailable, Refusal, VideoReservation
from shared.youtube.rotation import AccountRotation, Candidate, candidates
from shared.youtube.tokens import REAUTH_REASONS, TokenError

log = get_logger("youtube.uploader")
INSERT = "videos.insert"


class UploadDeferred(Exception):
    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class UploadRefused(Exception):
    """YouTube refused the video itself (bad metadata, ...): another account or a retry will not help."""


class UploadInterrupted(Exception):
    """A transient failure; the task's retry continues where this one stopped."""


class _MoveOn(Exception):
    """This account cannot take the upload now; try the next one."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


@dataclass
class UploadTask:
    job_id: str
    file_path: Path
    metadata: VideoMetadata
    state: dict[str, Any]  # the job's `upload` record (updated here, persisted through `save`)
    save: Callable[[dict[str, Any]], None]
    channel_id: str | None = None
    recover: bool = False  # a redelivery: look for a reservation made but not saved
    last_attempt: bool = False  # the task's last attempt: give reservations back on a transient failure


@dataclass
class UploadResult:
    video_id: str
    account_id: str
    resumed: bool
    reservation: VideoReservation
    tries: list[dict[str, str]] = field(default_factory=list)


class PoolView:
    """The pool as the rotation ranks it: accounts and today's ledger, reused for `ttl_s` per instance.
    Only a hint — the ledger's reservations are what count."""

    def __init__(
        self, accounts: Any, ledger: QuotaLedger, settings: Settings, now: Callable[[], datetime]
    ) -> None:
        self._accounts = accounts
        self._ledger = ledger
        self._settings = settings
        self._now = now
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._cached: tuple[float, list[Account], Any] | None = None

    def candidates(self, *, fresh: bool = False) -> list[Candidate]:
        """The candidates from the cached view; `fresh` re-reads it unless it was read a moment ago
        (a quarter of the TTL: many deferrals in a row then share one read). One thread reads at a time;
        the others keep using the view they have meanwhile."""
        ttl = self._settings.rotation_snapshot_ttl_s
        with self._lock:
            cached = self._cached
        age = time.monotonic() - cached[0] if cached is not None else None
        if age is None or age > (ttl / 4 if fresh else ttl):
            blocking = cached is None or fresh
            if self._reading.acquire(blocking=blocking):
                try:
                    with self._lock:
                        current = self._cached
                    if current is cached or current is None:  # nobody refreshed it while we waited
                        current = (time.monotonic(), self._accounts.list(), self._ledger.view())
                        with self._lock:
                            self._cached = current
                    cached = current
                finally:
                    self._reading.release()
        s = self._settings
        return candidates(s, cached[1], cached[2], s.quota_profiles, s.quota_pool_profiles, self._now())

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None


class Uploader:
    def __init__(
        self,
        *,
        settings: Settings,
        accounts: Any,
        ledger: QuotaLedger,
        rotation: AccountRotation,
        youtube: Any,
        tokens: Any,
        view: PoolView,
        now: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.s = settings
        self.accounts = accounts
        self.ledger = ledger
        self.rotation = rotation
        self.youtube = youtube
        self.tokens = tokens
        self.view = view
        self.now = now
        self.sleep = sleep

    # --- the upload ------------------------------------------------------------------------------------
    def run(self, task: UploadTask) -> UploadResult:
        tries: list[dict[str, str]] = list(task.state.get("tries") or [])
        held = self._held_reservation(task)
        if held is not None:
            account = self.accounts.get(held.account_id)
            usable = account is not None and account.effective_status(self.now()) == "healthy"
            if not usable and not task.state.get("session_uri"):
                self._give_back(task, held, None, False)  # the operator took the account away meanwhile
            elif account is not None:
                try:
                    return self._attempt(task, account, held, tries)
                except _MoveOn as move:
                    tries.append({"account_id": account.account_id, "outcome": move.outcome})
        tried = {t["account_id"] for t in tries}
        active_tries = sum(1 for t in tries if t.get("tier", "active") == "active")
        reserve_tries = len(tries) - active_tries
        for fresh in (False, True):  # a refusal on a stale view is checked against a fresh one
            for cand in self._order(task.channel_id, tried, fresh=fresh):
                is_reserve = cand.account.tier == "reserve"
                if not is_reserve and active_tries >= self.s.rotation_max_tries:
                    continue
                if is_reserve and reserve_tries >= self.s.rotation_max_reserve_tries:
                    break
                res = self.ledger.reserve_video(cand.account, task.job_id)
                if isinstance(res, Refusal):
                    continue
                tried.add(cand.account_id)
                active_tries += not is_reserve
                reserve_tries += is_reserve
                self._save(
                    task,
                    account_id=cand.account_id,
                    pool=res.pool,
                    reservation=res.to_json(),
                    session_uri=None,
                    tries=tries,
                )
                try:
                    return self._attempt(task, cand.account, res, tries)
                except _MoveOn as move:
                    tries.append(
                        {"account_id": cand.account_id, "tier": cand.account.tier, "outcome": move.outcome}
                    )
                    self._save(task, account_id=None, reservation=None, session_uri=None, tries=tries)
            self.ledger.forget_full()
        until = next_pacific_midnight(self.now())
        summary = ", ".join(f"{t['account_id']}: {t['outcome']}" for t in tries) or "no account has capacity"
        self._save(task, tries=[])  # the next Pacific day starts the rotation afresh
        raise UploadDeferred(until, f"no YouTube account can upload until {until.isoformat()} ({summary})")

    def _held_reservation(self, task: UploadTask) -> VideoReservation | None:
        saved = task.state.get("reservation")
        if saved:
            res = VideoReservation.from_json(saved)
            if res.day == pacific_day(self.now()) or task.state.get("session_uri"):
                return res
            self.ledger.release_video(res)  # yesterday's, never used: today's rotation decides again
            self._save(task, account_id=None, reservation=None)
            return None
        if task.recover:
            return self.ledger.find_video_reservation(task.job_id)
        return None

    def _order(self, channel_id: str | None, tried: set[str], *, fresh: bool) -> list[Candidate]:
        pool = [c for c in self.view.candidates(fresh=fresh) if c.account_id not in tried]
        if channel_id:
            pool = [c for c in pool if c.account.channel_id == channel_id]
        return self.rotation.order(pool)

    def _save(self, task: UploadTask, **changes: Any) -> None:
        task.state.update(changes)
        task.save(dict(task.state))

    def _attempt(
        self, task: UploadTask, account: Account, res: VideoReservation, tries: list[dict[str, str]]
    ) -> UploadResult:
        """Upload on one account: success, or _MoveOn (next account), or an upload exception."""
        account_id = account.account_id
        with log_context(account=account_id):
            if task.state.get("account_id") != account_id or not task.state.get("reservation"):
                self._save(task, account_id=account_id, pool=res.pool, reservation=res.to_json())
            auth_failures = 0
            resumes = 0
            while True:
                had_session = bool(task.state.get("session_uri"))
                try:
                    outcome = self.youtube.upload(
                        account_id,
                        task.file_path,
                        task.metadata,
                        session_uri=task.state.get("session_uri"),
                        on_session=lambda uri: self._save(task, session_uri=uri, started_at=self.now()),
                    )
                except ProviderError as e:
                    session = bool(task.state.get("session_uri"))
                    api_call = not isinstance(e, TokenError)
                    # A failed call outside a session is charged its failed-call cost; inside one it is
                    # part of the insert, charged in full when the session opened.
                    failed_charge = INSERT if api_call and not session else None
                    self._on_failure(task, account, res, e, failed_charge, auth_failures, resumes)
                    if e.reason == "authError":
                        auth_failures += 1
                    else:
                        resumes += 1
                    continue
                return self._succeeded(task, account, res, outcome, had_session, tries)

    def _on_failure(
        self,
        task: UploadTask,
        account: Account,
        res: VideoReservation,
        e: ProviderError,
        failed_charge: str | None,
        auth_failures: int,
        resumes: int,
    ) -> None:
        """Decide what a failed upload call means; returns to retry the same account."""
        account_id = account.account_id
        session = bool(task.state.get("session_uri"))
        log.warning("upload failed", extra={"reason": e.reason, "transient": e.transient})
        if e.reason == "quotaExceeded":
            self._give_back(task, res, failed_charge, session)
            self.ledger.mark_exhausted(res.pool, f"quotaExceeded on {account_id}")
            self.accounts.record_outcome(account_id, ok=False, counts_as_error=False)
            self.view.invalidate()
            raise _MoveOn("quotaExceeded")
        if e.reason == "uploadLimitExceeded":
            self._give_back(task, res, failed_charge, session)
            self.accounts.record_outcome(account_id, ok=False)
            self.accounts.cool_down(account_id, self.s.upload_limit_cooldown_s, "uploadLimitExceeded")
            self.view.invalidate()
            raise _MoveOn("uploadLimitExceeded")
        if e.reason in REAUTH_REASONS or (
            e.reason == "authError" and auth_failures + 1 >= self.s.youtube_auth_attempts
        ):
            self._needs_reauth(task, account, res, e.reason, failed_charge, session)
        if e.reason == "authError":
            self._charge(res, failed_charge)
            self.accounts.record_outcome(account_id, ok=False)
            try:
                self.tokens.refresh(account_id)
            except ProviderError as refresh_error:
                if refresh_error.reason in REAUTH_REASONS:
                    self._needs_reauth(task, account, res, refresh_error.reason, None, session)
                self._interrupted(task, res, f"token refresh failed: {refresh_error.reason}")
            return
        if e.transient:
            self._charge(res, failed_charge)
            if not isinstance(e, TokenError):
                self.accounts.record_outcome(account_id, ok=False)
            if resumes < self.s.youtube_upload_resume_attempts:
                self.sleep(min(2.0, 0.2 * 2**resumes))
                return
            self._interrupted(task, res, f"{e.reason or 'transient failure'}: {e}")
        self._give_back(task, res, failed_charge, session)
        self.accounts.record_outcome(account_id, ok=False)
        self._save(task, account_id=None, reservation=None, session_uri=None)
        raise UploadRefused(f"YouTube refused the upload on {account_id}: {e.reason or e}")

    def _needs_reauth(
        self,
        task: UploadTask,
        account: Account,
        res: VideoReservation,
        reason: str,
        failed_charge: str | None,
        session: bool,
    ) -> None:
        self._give_back(task, res, failed_charge, session)
        if self.accounts.mark_needs_reauth(account.account_id, reason):
            log.error("account needs re-authorisation", extra={"reason": reason})
        self.view.invalidate()
        raise _MoveOn(f"needs_reauth ({reason})")

    def _interrupted(self, task: UploadTask, res: VideoReservation, reason: str) -> None:
        if task.last_attempt:  # the job will fail: its reservation goes back
            self._give_back(task, res, None, bool(task.state.get("session_uri")))
        raise UploadInterrupted(reason)

    def _charge(self, res: VideoReservation, method: str | None) -> None:
        if method is not None:
            profile = self.ledger.profile(res.pool)
            bucket, category, _ = _video_line(profile, method)
            self.ledger.charge_spent(res.pool, bucket, category, profile.failed_call_cost, method=method)

    def _give_back(
        self, task: UploadTask, res: VideoReservation, failed_charge: str | None, session: bool
    ) -> None:
        """Release the reservation; an insert whose session opened was charged in full by YouTube."""
        self.ledger.release_video(res, failed_call=failed_charge)
        if session:
            profile = self.ledger.profile(res.pool)
            bucket, category, units = _video_line(profile, INSERT)
            self.ledger.charge_spent(res.pool, bucket, category, units, method=INSERT)
        self._save(task, account_id=None, reservation=None, session_uri=None)

    def _succeeded(
        self,
        task: UploadTask,
        account: Account,
        res: VideoReservation,
        outcome: UploadOutcome,
        had_session: bool,
        tries: list[dict[str, str]],
    ) -> UploadResult:
        if had_session and not outcome.resumed:
            # The saved session had expired and a new one was opened: a second insert was charged.
            profile = self.ledger.profile(res.pool)
            bucket, category, units = _video_line(profile, INSERT)
            self.ledger.charge_spent(res.pool, bucket, category, units, method=INSERT)
        self.ledger.settle_video(res, INSERT, ok=True)
        self.accounts.record_outcome(account.account_id, ok=True)
        self.rotation.picked(account.account_id)
        self._save(task, video_id=outcome.video_id, finished_at=self.now(), tries=tries)
        log.info("uploaded", extra={"video_id": outcome.video_id, "resumed": outcome.resumed})
        return UploadResult(outcome.video_id, account.account_id, outcome.resumed, res, tries)


def _video_line(profile: Any, method: str) -> tuple[str, str, int]:
    from shared.youtube.quota import video_line

    return video_line(profile, method)


# --- publishing -------------------------------------------------------------------------------------------
class PublishDeferred(UploadDeferred):
    pass


@dataclass
class PublishTask:
    account_id: str
    pool: str
    video_id: str
    thumbnail_path: Path
    metadata: VideoMetadata
    reservation: VideoReservation | None
    done: list[str]  # calls already made by an earlier delivery
    save_done: Callable[[list[str]], None]


def publish(
    task: PublishTask,
    *,
    settings: Settings,
    accounts: Any,
    ledger: QuotaLedger,
    youtube: Any,
    tokens: Any,
    now: Callable[[], datetime],
) -> list[str]:
    """Thumbnail, then metadata (title, description, tags, category, the published privacy). Each call is
    charged to the video's reservation (or, when it has none, to the emergency share: a video already on
    YouTube that cannot be finished is the crisis that share is for)."""
    account_id, video_id = task.account_id, task.video_id
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("thumbnails.set", lambda: youtube.set_thumbnail(account_id, video_id, task.thumbnail_path)),
        ("videos.update", lambda: youtube.update_metadata(account_id, video_id, task.metadata)),
    ]
    done = list(task.done)
    for method, call in calls:
        if method in done:
            continue
        _publish_call(
            task, method, call, settings=settings, accounts=accounts, ledger=ledger, tokens=tokens, now=now
        )
        done.append(method)
        task.save_done(done)
    return done


def _publish_call(
    task: PublishTask,
    method: str,
    call: Callable[[], Any],
    *,
    settings: Settings,
    accounts: Any,
    ledger: QuotaLedger,
    tokens: Any,
    now: Callable[[], datetime],
) -> None:
    for attempt in range(settings.youtube_auth_attempts):
        hold = None
        if task.reservation is None:
            try:
                hold = ledger.reserve(task.pool, method, emergency=True)
            except QuotaUnavailable as e:
                raise PublishDeferred(next_pacific_midnight(now()), str(e)) from None
        try:
            call()
        except ProviderError as e:
            api_call = not isinstance(e, TokenError)
            if hold is not None and api_call:
                ledger.settle(hold, ok=False)
            elif hold is not None:
                ledger.release(hold)
            elif api_call:
                ledger.settle_video(task.reservation, method, ok=False)
            if e.reason == "quotaExceeded":
                ledger.mark_exhausted(task.pool, f"quotaExceeded on {task.account_id}")
                raise PublishDeferred(next_pacific_midnight(now()), f"{task.pool}: quotaExceeded") from None
            reauth = PublishDeferred(
                now() + timedelta(seconds=settings.publish_reauth_retry_s),
                f"account {task.account_id} needs re-authorisation",
            )
            if e.reason in REAUTH_REASONS or (
                e.reason == "authError" and attempt + 1 >= settings.youtube_auth_attempts
            ):
                accounts.mark_needs_reauth(task.account_id, e.reason)
                raise reauth from None
            if e.reason == "authError":
                try:
                    tokens.refresh(task.account_id)
                except ProviderError as refresh_error:
                    if refresh_error.reason in REAUTH_REASONS:
                        accounts.mark_needs_reauth(task.account_id, refresh_error.reason)
                        raise reauth from None
                    raise UploadInterrupted(f"token refresh failed: {refresh_error.reason}") from None
                continue
            if e.transient:
                raise UploadInterrupted(f"{method}: {e.reason or e}") from None
            raise UploadRefused(f"{method} refused: {e.reason or e}") from None
        if hold is not None:
            ledger.settle(hold, ok=True)
        else:
            ledger.settle_video(task.reservation, method, ok=True, new_call=True)
        accounts.record_outcome(task.account_id, ok=True)
        return

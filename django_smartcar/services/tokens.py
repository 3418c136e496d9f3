"""Token access and rotation: the only code that reads a refresh token or asks Smartcar for new tokens.

Smartcar rotates the refresh token on every refresh and the old one dies a minute later, so two processes
refreshing the same account at once would kill it. Every refresh therefore happens under a per-account lock
that dies with its process (a PostgreSQL advisory lock; on SQLite a lock file beside the database), re-checks
after taking the lock, and commits the new pair before anyone uses it. A refresh must not run inside a
caller's transaction that could still roll the new tokens back (``durable=True`` refuses that).

An answer can be lost after Smartcar rotated, and a process can die while waiting for it. Both are repaired
inside Smartcar's reuse window: failed exchanges are repeated at once under the lock
(``exchange_with_retries``), and an "exchange in flight since" marker, committed before the request, tells
whoever next takes the lock (a page, a task, the recovery beat) that the stored token must be presented again."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.db import router, transaction
from django.utils import timezone
from urllib3.exceptions import NewConnectionError

from .. import client, signals
from ..client.redaction import redact_text
from ..client.transport import PreparedRequest, backoff_delay
from ..conf import smartcar_settings
from ..crypto import EncryptionKeyError, reencrypt
from ..db import process_lock, select_for_update
from ..exceptions import AccountUnavailable, ReauthenticationRequired
from ..models import USABLE_STATUSES, SmartcarAccount
from .clients import get_auth_client

logger = logging.getLogger(__name__)

Status = SmartcarAccount.Status


def get_access_token(account: SmartcarAccount) -> str:
    """A valid access token for the account, refreshing it first if it expires within the margin.

    Raises ``AccountUnavailable`` (or ``ReauthenticationRequired``) when only a reconnect can help, and the
    client's ``SmartcarException`` when Smartcar could not be reached (the account stays usable).
    """
    ensure_usable(account)
    # A marker left by a killed process is resumed here too: the page asking may be the first to notice.
    if account.token_exchange_started_at is None and not _access_expiring(account):
        return account.access_token
    refreshed = _refresh(account, needed=_access_expiring)
    _copy_token_fields(refreshed, account)
    return refreshed.access_token


def rotate_tokens(account: SmartcarAccount, *, force: bool = False) -> bool:
    """Exchange the refresh token for a new pair if it is inside the rotation window (or ``force``).

    Returns True when this call rotated the tokens, False when there was nothing to do (for instance another
    worker rotated them a moment ago).
    """
    ensure_usable(account)
    before = account.refresh_expires_at

    def needed(locked: SmartcarAccount) -> bool:
        # After the lock, a forced rotation is still skipped if someone else rotated in the meantime.
        if force:
            return locked.refresh_expires_at == before
        return refresh_expiring(locked)

    refreshed = _refresh(account, needed=needed)
    rotated = refreshed.refresh_expires_at != before
    _copy_token_fields(refreshed, account)
    return rotated


def refresh_expiring(account: SmartcarAccount, now: datetime | None = None) -> bool:
    """Whether the refresh token is inside the rotation window."""
    now = now or timezone.now()
    window: timedelta = smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW
    # None: a V3 account, which has no refresh token to rotate.
    return account.refresh_expires_at is not None and account.refresh_expires_at <= now + window


def store_tokens(account: SmartcarAccount, access: Mapping[str, Any] | None) -> None:
    """Put a token answer (``client.Access``) on the account and mark it healthy; the caller saves.

    ``None``: a V3 connection, which holds no tokens (the site's application token reaches it); whatever tokens
    an earlier v2 connection left are dropped."""
    if access is None:
        account.access_token_encrypted = account.refresh_token_encrypted = ""
        account.access_expires_at = account.refresh_expires_at = None
    else:
        account.access_token = access["access_token"]
        account.refresh_token = access["refresh_token"]
        account.access_expires_at = access["expiration"]
        account.refresh_expires_at = access["refresh_expiration"]
    account.status = Status.ACTIVE
    account.consecutive_failures = 0
    account.last_refresh_error = ""
    account.last_refreshed_at = timezone.now()


def _access_expiring(account: SmartcarAccount) -> bool:
    margin: timedelta = smartcar_settings.ACCESS_TOKEN_REFRESH_MARGIN
    return account.access_expires_at is None or account.access_expires_at <= timezone.now() + margin


def ensure_usable(account: SmartcarAccount) -> None:
    """Refuse an account only a reconnect can help (``ReauthenticationRequired``, ``AccountUnavailable``): the
    one rule, applied before a token is used (v2) or a call is made for the account (V3)."""
    if account.status == Status.REAUTH_REQUIRED:
        raise ReauthenticationRequired(account)
    if not account.is_usable:
        raise AccountUnavailable(account)


def _refresh(account: SmartcarAccount, *, needed: Callable[[SmartcarAccount], bool]) -> SmartcarAccount:
    db = router.db_for_write(SmartcarAccount)
    # Refuse before talking to Smartcar, not after: inside a caller's transaction the rotated tokens (and the
    # in-flight marker) could still be rolled back, and the old refresh token dies a minute later.
    with transaction.atomic(using=db, durable=True):
        pass
    with account_lock(db, account.pk):
        locked = SmartcarAccount.objects.using(db).get(pk=account.pk)
        error = _exchange_if_needed(locked, needed, db)
    if error is not None:
        raise error
    return locked


# First key of PostgreSQL's two-key advisory locks: "django_smartcar token exchange" (any fixed int4 would do).
ADVISORY_LOCK_NAMESPACE = 0x5C7A0E


def account_lock(db: str, account_pk: int, *, blocking: bool = True) -> AbstractContextManager[bool]:
    """Serialize token exchanges of one account across threads and processes; yields whether it is held.

    The lock belongs to the process, not to a transaction, so that the in-flight marker can be committed
    while it is held, and it dies with the process: a worker or web process killed mid-exchange frees the
    account at once (``db.process_lock``: an advisory lock on PostgreSQL, a lock file on SQLite).
    """
    return process_lock(db, SmartcarAccount, account_pk, namespace=ADVISORY_LOCK_NAMESPACE, blocking=blocking)


def _exchange_if_needed(
    locked: SmartcarAccount, needed: Callable[[SmartcarAccount], bool], db: str
) -> Exception | None:
    """Re-check after the lock, exchange the refresh token, and save the outcome; return the error to raise."""
    started_at = begin_exchanges([locked], needed, db)[locked.pk]
    if isinstance(started_at, AccountUnavailable):
        raise started_at
    if started_at is None:
        return None
    presented = locked.refresh_token
    try:
        answer: client.Access | client.SmartcarException = exchange_with_retries(
            presented, first_attempt_at=started_at
        )
    except client.SmartcarException as exc:
        answer = exc
    return finish_exchange(locked, presented, answer, db)


def begin_exchanges(
    accounts: Sequence[SmartcarAccount], needed: Callable[[SmartcarAccount], bool], db: str
) -> dict[int, datetime | AccountUnavailable | None]:
    """Under each account's lock, before any request: decide whether to exchange, and commit the in-flight
    marker of those that will be. For each account: when its exchange started, None (nothing to do), or the
    ``AccountUnavailable`` (``ReauthenticationRequired``) that refuses it. The first half of every exchange,
    one account's (``_exchange_if_needed``) and a bulk rotation's (``exchange_in_bulk``, one UPDATE for the
    markers of a whole batch) alike.

    A marker found here, under the lock, can only be left by a process that died mid-exchange (a live one
    would still hold the lock): Smartcar may have rotated the stored token already, so it is presented again
    at once, whatever ``needed`` says, while Smartcar still accepts it.
    """
    begun: dict[int, datetime | AccountUnavailable | None] = {}
    to_mark = []
    now = timezone.now()
    for locked in accounts:
        try:
            ensure_usable(locked)
        except AccountUnavailable as refusal:
            begun[locked.pk] = refusal
            continue
        started_at = locked.token_exchange_started_at
        if started_at is not None:
            logger.warning(
                "Resuming the token exchange of Smartcar account %s interrupted since %s",
                locked.pk,
                started_at.isoformat(),
            )
            begun[locked.pk] = started_at
        elif needed(locked):
            locked.token_exchange_started_at = begun[locked.pk] = now
            to_mark.append(locked.pk)
        else:
            begun[locked.pk] = None
    if to_mark:
        # Committed before the requests: whoever finds a marker after this process died knows to resume at once.
        SmartcarAccount.objects.using(db).filter(pk__in=to_mark).update(token_exchange_started_at=now)
    return begun


def finish_exchange(
    locked: SmartcarAccount,
    presented: str,
    answer: client.Access | client.SmartcarException,
    db: str,
) -> Exception | None:
    """Under the account's lock, after the request: store the new pair, or record the failure (clearing the
    marker only when Smartcar surely did not rotate); return the error for the caller. The second half of
    every exchange, whichever transport carried it."""
    if isinstance(answer, client.InvalidGrantException):
        locked.token_exchange_started_at = None
        mark_reauth_required(locked, answer.description or str(answer))
        return ReauthenticationRequired(locked)
    if isinstance(answer, client.SmartcarException):
        if not may_have_rotated(answer):
            locked.token_exchange_started_at = None
        _record_failure(locked, answer)
        return answer
    _save_new_tokens(locked, presented, answer, db)
    return None


def _save_new_tokens(locked: SmartcarAccount, presented: str, access: Mapping[str, Any], db: str) -> None:
    """Store the new pair and clear the marker in one write, unless a reconnect or disconnect replaced the
    tokens meanwhile (the process lock does not stop those): then theirs stand and this pair is dropped.

    One conditional UPDATE (the row still holds the very ciphertext read under the lock) does it in the common
    case; only when that finds the row changed (a reconnect, or the same token re-encrypted with a newer key)
    is the row locked and its token compared. A bulk rotation pays this per account, so it is one query."""
    read_under_lock = locked.refresh_token_encrypted
    before = {field: getattr(locked, field) for field in (*TOKEN_FIELDS, "token_exchange_started_at")}
    store_tokens(locked, access)
    locked.token_exchange_started_at = None
    locked.updated_at = timezone.now()
    written = (
        SmartcarAccount.objects.using(db)
        .filter(pk=locked.pk, refresh_token_encrypted=read_under_lock)
        .update(**{field: getattr(locked, field) for field in (*TOKEN_FIELDS, "token_exchange_started_at")})
    )
    if written:
        transaction.on_commit(
            lambda: signals.tokens_refreshed.send(sender=SmartcarAccount, account=locked), using=db
        )
        logger.info("Refreshed tokens of Smartcar account %s", locked.pk)
        return
    for field, value in before.items():
        setattr(locked, field, value)
    with transaction.atomic(using=db):
        current = select_for_update(SmartcarAccount.objects.using(db).filter(pk=locked.pk)).get()
        replaced = not current.refresh_token_encrypted or current.refresh_token != presented
        if replaced:
            current.token_exchange_started_at = None
            current.save(update_fields=["token_exchange_started_at"])
            _copy_token_fields(current, locked)
            locked.token_exchange_started_at = None
            logger.info(
                "Tokens of Smartcar account %s were replaced during a refresh; keeping those", locked.pk
            )
            return
        store_tokens(locked, access)
        locked.token_exchange_started_at = None
        locked.save(update_fields=[*TOKEN_FIELDS, "token_exchange_started_at"])
        transaction.on_commit(
            lambda: signals.tokens_refreshed.send(sender=SmartcarAccount, account=locked), using=db
        )
    logger.info("Refreshed tokens of Smartcar account %s", locked.pk)


def exchange_with_retries(refresh_token: str, *, first_attempt_at: datetime) -> client.Access:
    """Exchange the refresh token, repeating transient failures while Smartcar's reuse window surely lasts.

    A failure after Smartcar rotated the token (a lost answer, a time-out, a 5xx) leaves the old token valid
    for only a minute (Smartcar's shortest documented grace), so the repeats come here, under the account's
    lock, on every path (web requests, admin, API, tasks), and the last one starts no later than
    ``TOKEN_EXCHANGE_RETRY_WINDOW`` after ``first_attempt_at``. ``invalid_grant`` is never repeated.
    """
    deadline = first_attempt_at + smartcar_settings.TOKEN_EXCHANGE_RETRY_WINDOW
    attempt = 0
    while True:
        try:
            return get_auth_client().exchange_refresh_token(refresh_token)
        except client.InvalidGrantException:
            raise
        except client.SmartcarException as exc:
            pause = _retry_pause(exc, attempt)
            if (
                pause is None
                or attempt + 1 >= MAX_EXCHANGE_ATTEMPTS
                or timezone.now() + timedelta(seconds=pause) > deadline
            ):
                raise
            logger.info("Token exchange failed (%s); trying again in %.1f s", type(exc).__name__, pause)
            time.sleep(pause)
            attempt += 1


# Attempts of one exchange at most, however fast Smartcar fails: the window bounds the time, this the load.
MAX_EXCHANGE_ATTEMPTS = 6
# The pause before the second attempt, doubling after each failure up to the maximum (seconds).
EXCHANGE_RETRY_FIRST_PAUSE = 0.5
EXCHANGE_RETRY_MAX_PAUSE = 4.0


def _retry_pause(exc: client.SmartcarException, attempt: int) -> float | None:
    """Seconds before the next attempt (doubling from ``EXCHANGE_RETRY_FIRST_PAUSE``, with jitter, at least any
    Retry-After), or None when repeating cannot help."""
    if not is_transient(exc):
        return None
    backoff = backoff_delay(attempt, EXCHANGE_RETRY_FIRST_PAUSE, EXCHANGE_RETRY_MAX_PAUSE)
    return max(backoff, float(exc.retry_after or 0))


def is_transient(exc: client.SmartcarException) -> bool:
    """Whether a failed token exchange is worth repeating.

    Wider than the client's ``retryable`` (which spares billed GETs from repeating a 500): a refresh that failed
    with any 5xx may or may not have rotated the token at Smartcar, and repeating it within a minute is exactly
    what Smartcar's reuse window is for.
    """
    return exc.retryable or (exc.status_code or 0) >= 500


def may_have_rotated(exc: client.SmartcarException) -> bool:
    """Whether Smartcar may have rotated the token although the exchange failed (the answer was lost).

    Only a request that surely never arrived (no connection made) or that Smartcar surely refused (any 4xx)
    is definite; time-outs, resets and 5xx may have come after Smartcar did the work.
    """
    if isinstance(exc, client.SmartcarConnectionError) and not exc.request_sent:
        return False  # either transport: the connection was never set up
    cause = exc.__cause__
    if isinstance(cause, requests.ConnectTimeout):
        return False
    if isinstance(exc, client.SmartcarConnectionError):
        reason = getattr(cause.args[0], "reason", None) if cause is not None and cause.args else None
        return not isinstance(reason, NewConnectionError)
    return exc.status_code is None or exc.status_code >= 500


def resume_interrupted_exchanges() -> int:
    """Re-run every token exchange left in flight by a process that died; returns how many were resumed.

    A cheap indexed query finds the markers; an account whose lock is held belongs to a live exchange and is
    left alone. Meant for a beat every ``EXCHANGE_RECOVERY_INTERVAL``: with the 15 s default, an exchange
    killed mid-flight is repeated within about 15 s (plus one request), well inside Smartcar's reuse window.
    """
    db = router.db_for_write(SmartcarAccount)
    pending = list(
        SmartcarAccount.objects.using(db)
        .filter(token_exchange_started_at__isnull=False, status__in=USABLE_STATUSES)
        .order_by("token_exchange_started_at")
        .values_list("pk", flat=True)
    )
    resumed = 0
    for pk in pending:
        with account_lock(db, pk, blocking=False) as held:
            if not held:
                continue
            locked = SmartcarAccount.objects.using(db).filter(pk=pk).first()
            if locked is None or locked.token_exchange_started_at is None or not locked.is_usable:
                continue
            error = _exchange_if_needed(locked, lambda _account: False, db)
        resumed += 1
        if error is not None and not isinstance(error, ReauthenticationRequired):
            logger.warning("Resuming the token exchange of Smartcar account %s failed: %s", pk, error)
    return resumed


# --- Many accounts at once -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkExchange:
    """What ``exchange_in_bulk`` did for one account.

    ``outcome``: "exchanged", "skipped" (nothing to do), "locked" (another process holds the account),
    "reauth_required", "unavailable", "missing" or "failed" (``error`` says why; the account's failure and, when
    Smartcar may have rotated, its in-flight marker are recorded as on every path).
    """

    account_id: int
    outcome: str
    error: client.SmartcarException | None = dataclasses.field(default=None, repr=False)
    account: SmartcarAccount | None = dataclasses.field(default=None, repr=False)


def exchange_in_bulk(
    account_ids: Iterable[int], *, needed: Callable[[SmartcarAccount], bool], max_in_flight: int
) -> list[BulkExchange]:
    """Exchange the refresh tokens of many accounts with up to ``max_in_flight`` requests waiting on Smartcar
    at once (``client.aio.send_all``), from the calling thread, which keeps all the database work.

    Each account goes through the very steps of a single exchange (``_refresh``): its lock (taken without
    waiting), the re-check and the in-flight marker committed before its request (``begin_exchanges``), and
    the outcome stored under the same lock (``finish_exchange``: encrypted tokens, signals, failures). A lock
    is held only while that account's request is in flight. An account whose lock is held elsewhere is not
    waited for: it is tried again once the others are done (on SQLite, accounts sharing a lock file do
    that), and reported "locked" if still held. Nothing is repeated here and nobody sleeps: the caller
    reschedules the failures, and a marker left by a lost answer is presented again by whoever next takes
    the lock (the rescheduled task, or ``resume_interrupted_exchanges`` within ``EXCHANGE_RECOVERY_INTERVAL``).
    """
    from ..client.aio import send_all
    from .clients import get_timeouts

    db = router.db_for_write(SmartcarAccount)
    # As in _refresh: new tokens committed inside a caller's transaction could still be rolled back.
    with transaction.atomic(using=db, durable=True):
        pass
    auth = get_auth_client()
    results: list[BulkExchange] = []
    in_flight: dict[int, tuple[ExitStack, SmartcarAccount, str]] = {}

    def requests_for(ids: list[int], deferred: list[int]) -> Iterator[tuple[int, PreparedRequest]]:
        # Runs in the calling thread (send_all pulls one request per answer it hands back), a batch of
        # max_in_flight accounts at a time: their locks one by one, their rows in one query, their markers in one.
        for first in range(0, len(ids), max_in_flight):
            ready = _begin_batch(ids[first : first + max_in_flight], deferred)
            for pk in ready:
                yield pk, auth.refresh_token_request(in_flight[pk][2])

    def _begin_batch(batch: list[int], deferred: list[int]) -> list[int]:
        held: dict[int, ExitStack] = {}
        try:
            for pk in batch:
                stack = ExitStack()
                if stack.enter_context(account_lock(db, pk, blocking=False)):
                    held[pk] = stack
                else:
                    stack.close()
                    deferred.append(pk)
            rows = SmartcarAccount.objects.using(db).in_bulk(list(held)) if held else {}
            begun = begin_exchanges(list(rows.values()), needed, db)
        except BaseException:
            for stack in held.values():
                stack.close()
            raise
        ready = []
        for pk, stack in held.items():
            locked = rows.get(pk)
            state = begun.get(pk)
            if isinstance(state, datetime):
                assert locked is not None
                in_flight[pk] = (stack, locked, locked.refresh_token)
                ready.append(pk)
                continue
            stack.close()
            if locked is None:
                outcome = "missing"
            elif isinstance(state, ReauthenticationRequired):
                outcome = "reauth_required"
            elif isinstance(state, AccountUnavailable):
                outcome = "unavailable"
            else:
                outcome = "skipped"
            results.append(BulkExchange(pk, outcome, account=locked))
        return ready

    pending = list(account_ids)
    try:
        while pending:
            deferred: list[int] = []
            for pk, answer in send_all(
                requests_for(pending, deferred), max_in_flight=max_in_flight, timeouts=get_timeouts()
            ):
                stack, locked, presented = in_flight.pop(pk)
                with stack:
                    results.append(_finish_in_bulk(auth, locked, presented, answer, db))
            if len(deferred) == len(pending):  # no progress: those locks are held by someone else
                results.extend(BulkExchange(pk, "locked") for pk in deferred)
                break
            pending = deferred
    finally:
        # Only after a bug (a non-Smartcar exception): never keep a lock past this call.
        for stack, _locked, _presented in in_flight.values():
            stack.close()
    return results


def _finish_in_bulk(
    auth: client.AuthClient,
    locked: SmartcarAccount,
    presented: str,
    answer: client.ApiResponse | client.SmartcarException,
    db: str,
) -> BulkExchange:
    outcome: client.Access | client.SmartcarException
    if isinstance(answer, client.SmartcarException):
        outcome = answer
    else:
        try:
            outcome = auth.parse_token_response(answer)
        except client.SmartcarException as exc:
            outcome = exc
    error = finish_exchange(locked, presented, outcome, db)
    if error is None:
        return BulkExchange(locked.pk, "exchanged", account=locked)
    if isinstance(error, ReauthenticationRequired):
        return BulkExchange(locked.pk, "reauth_required", account=locked)
    assert isinstance(error, client.SmartcarException)
    return BulkExchange(locked.pk, "failed", error=error, account=locked)


def needs_reauthentication(error_type: str | None, resolution: Any) -> bool:
    """The one rule for whether an error Smartcar reported means the owner must reconnect through Connect:
    AUTHENTICATION, or any error whose ``resolution.type`` is REAUTHENTICATE (PERMISSION,
    CONNECTED_SERVICES_ACCOUNT/AUTHENTICATION_FAILED...). Any other CONNECTED_SERVICES_ACCOUNT error (ACCOUNT_ISSUE,
    SUBSCRIPTION, VIRTUAL_KEY_REQUIRED...) is for the owner to fix at their car maker, not a reconnect."""
    return error_type == "AUTHENTICATION" or (
        isinstance(resolution, dict) and resolution.get("type") == "REAUTHENTICATE"
    )


def mark_reauth_required(account: SmartcarAccount, reason: str) -> None:
    """Record that only a reconnect can help (Smartcar refused the refresh token, or said so in a webhook)."""
    reason = redact_text(reason)  # last line of defence: no credentials of a URL in the row, log or signal
    account.token_exchange_started_at = None
    _save_failure(account, Status.REAUTH_REQUIRED, reason)
    logger.warning("Smartcar account %s needs re-authentication: %s", account.pk, reason)
    transaction.on_commit(
        lambda: signals.reauth_required.send(sender=SmartcarAccount, account=account, reason=reason)
    )


def _save_failure(account: SmartcarAccount, status: str, reason: str) -> None:
    """Count a failed refresh and save it with its (already redacted) reason, and the in-flight marker as set."""
    account.status = status
    account.consecutive_failures += 1
    account.last_refresh_error = reason[:255]
    account.save(
        update_fields=[
            "status",
            "consecutive_failures",
            "last_refresh_error",
            "token_exchange_started_at",
            "updated_at",
        ]
    )


def _record_failure(account: SmartcarAccount, exc: client.SmartcarException) -> None:
    # A transient failure never costs the account its connection: it stays usable and is retried.
    _save_failure(account, Status.REFRESH_FAILING, redact_text(str(exc)))
    logger.warning(
        "Refreshing Smartcar account %s failed (%s attempt(s)): %s",
        account.pk,
        account.consecutive_failures,
        exc,
    )


# What ``store_tokens`` sets, saved by field so that nothing else on the row is overwritten.
TOKEN_FIELDS = (
    "access_token_encrypted",
    "refresh_token_encrypted",
    "access_expires_at",
    "refresh_expires_at",
    "status",
    "consecutive_failures",
    "last_refresh_error",
    "last_refreshed_at",
    "updated_at",
)


def _copy_token_fields(source: SmartcarAccount, target: SmartcarAccount) -> None:
    # The caller's instance sees the new state without another query.
    if source is target:
        return
    for field in (*TOKEN_FIELDS, "token_exchange_started_at"):
        setattr(target, field, getattr(source, field))


# --- Re-encryption with the newest key ------------------------------------------------------------------------

REENCRYPT_BATCH_SIZE = 500


@dataclass
class ReencryptionResult:
    """How many accounts' tokens were (or, in a dry run, would be) re-encrypted, and the accounts that failed."""

    done: int = 0
    failed: list[int] = dataclasses.field(default_factory=list)


def reencrypt_all_tokens(*, dry_run: bool = False) -> ReencryptionResult:
    """Re-encrypt every stored token with the newest key in ``ENCRYPTION_KEYS`` (``dry_run``: only check that
    each decrypts). An account that no configured key decrypts is listed in ``failed`` and the rest go on."""
    result = ReencryptionResult()
    ids = SmartcarAccount.objects.exclude(refresh_token_encrypted="").values_list("pk", flat=True)
    for pk in ids.iterator(chunk_size=REENCRYPT_BATCH_SIZE):
        # One short transaction per account: a token refresh racing with this one waits on the row lock
        # instead of having its new tokens overwritten with re-encrypted old ones.
        with transaction.atomic():
            account = select_for_update(SmartcarAccount.objects.filter(pk=pk)).get()
            try:
                access = reencrypt(account.access_token_encrypted) if account.access_token_encrypted else ""
                refresh = reencrypt(account.refresh_token_encrypted)
            except EncryptionKeyError:
                result.failed.append(pk)
                continue
            if not dry_run:
                account.access_token_encrypted = access
                account.refresh_token_encrypted = refresh
                account.save(update_fields=["access_token_encrypted", "refresh_token_encrypted"])
            result.done += 1
    return result

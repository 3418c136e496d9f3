"""Token access and rotation: the only code that reads a refresh token or asks Smartcar for new tokens.

Smartcar rotates the refresh token on every refresh and the old one dies a minute later, so two processes
refreshing the same account at once would kill it. Every refresh therefore happens under a lock on the
account (``select_for_update``; on SQLite, which has no row locks, a lock file beside the database), re-checks
after taking the lock, and commits the new pair in its own transaction before anyone uses it (``durable=True``
refuses to run inside a caller's transaction that could still roll the new tokens back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from .. import client, signals
from ..client.redaction import redact_text
from ..conf import smartcar_settings
from ..exceptions import AccountUnavailable, ReauthenticationRequired
from ..models import SmartcarAccount
from .clients import get_auth_client

try:
    import fcntl
except ImportError:  # Windows: refreshes on SQLite are then serialized per process only
    fcntl = None

logger = logging.getLogger(__name__)

Status = SmartcarAccount.Status


def get_access_token(account: SmartcarAccount) -> str:
    """A valid access token for the account, refreshing it first if it expires within the margin.

    Raises ``AccountUnavailable`` (or ``ReauthenticationRequired``) when only a reconnect can help, and the
    client's ``SmartcarException`` when Smartcar could not be reached (the account stays usable).
    """
    _ensure_usable(account)
    if not _access_expiring(account):
        return account.access_token
    refreshed = _refresh(account, needed=_access_expiring)
    _copy_token_fields(refreshed, account)
    return refreshed.access_token


def rotate_tokens(account: SmartcarAccount, *, force: bool = False) -> bool:
    """Exchange the refresh token for a new pair if it is inside the rotation window (or ``force``).

    Returns True when this call rotated the tokens, False when there was nothing to do (for instance another
    worker rotated them a moment ago).
    """
    _ensure_usable(account)
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
    return account.refresh_expires_at <= now + smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW


def store_tokens(account: SmartcarAccount, access: Mapping[str, Any]) -> None:
    """Put a token answer (``client.Access``) on the account and mark it healthy; the caller saves."""
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
    return account.access_expires_at <= timezone.now() + margin


def _ensure_usable(account: SmartcarAccount) -> None:
    if account.status == Status.REAUTH_REQUIRED:
        raise ReauthenticationRequired(account)
    if not account.is_usable:
        raise AccountUnavailable(account)


def _refresh(account: SmartcarAccount, *, needed: Callable[[SmartcarAccount], bool]) -> SmartcarAccount:
    db = router.db_for_write(SmartcarAccount)
    # Refuse before talking to Smartcar, not after: inside a caller's transaction the rotated tokens could
    # still be rolled back, and the old refresh token dies a minute later.
    with transaction.atomic(using=db, durable=True):
        pass
    if connections[db].features.has_select_for_update:
        with transaction.atomic(using=db, durable=True):
            locked = SmartcarAccount.objects.using(db).select_for_update().get(pk=account.pk)
            error = _exchange_if_needed(locked, needed, db)
    else:
        # SQLite has no row locks, and holding its database-wide lock across the HTTP call would block every
        # other writer (the bundled simulator included). A lock file beside the database serializes refreshes
        # of an account across threads and processes instead.
        with _sqlite_account_lock(db, account.pk):
            locked = SmartcarAccount.objects.using(db).get(pk=account.pk)
            error = _exchange_if_needed(locked, needed, db)
    if error is not None:
        raise error
    return locked


# Striped: the number of locks stays fixed however many accounts there are.
LOCK_STRIPES = 64
_thread_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]


@contextmanager
def _sqlite_account_lock(db: str, account_pk: int) -> Iterator[None]:
    stripe = account_pk % LOCK_STRIPES
    name = str(connections[db].settings_dict["NAME"])
    if fcntl is None or name == ":memory:" or name.startswith("file:"):
        # No lock files (Windows, or an in-memory database, which only one process can see anyway).
        with _thread_locks[stripe]:
            yield
        return
    lock_dir = Path(f"{name}.smartcar-locks")
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{stripe}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exchange_if_needed(
    locked: SmartcarAccount, needed: Callable[[SmartcarAccount], bool], db: str
) -> Exception | None:
    """Re-check after the lock, exchange the refresh token, and save the outcome; return the error to raise."""
    _ensure_usable(locked)
    if not needed(locked):
        return None
    try:
        access = get_auth_client().exchange_refresh_token(locked.refresh_token)
    except client.InvalidGrantException as exc:
        mark_reauth_required(locked, exc.description or str(exc))
        return ReauthenticationRequired(locked)
    except client.SmartcarException as exc:
        _record_failure(locked, exc)
        return exc
    store_tokens(locked, access)
    locked.save()
    transaction.on_commit(
        lambda: signals.tokens_refreshed.send(sender=SmartcarAccount, account=locked), using=db
    )
    logger.info("Refreshed tokens of Smartcar account %s", locked.pk)
    return None


def mark_reauth_required(account: SmartcarAccount, reason: str) -> None:
    """Record that only a reconnect can help (Smartcar refused the refresh token, or said so in a webhook)."""
    account.status = Status.REAUTH_REQUIRED
    account.consecutive_failures += 1
    reason = redact_text(reason)  # last line of defence: no credentials of a URL in the row, log or signal
    account.last_refresh_error = reason[:255]
    account.save(update_fields=["status", "consecutive_failures", "last_refresh_error", "updated_at"])
    logger.warning("Smartcar account %s needs re-authentication: %s", account.pk, reason)
    transaction.on_commit(
        lambda: signals.reauth_required.send(sender=SmartcarAccount, account=account, reason=reason)
    )


def _record_failure(account: SmartcarAccount, exc: client.SmartcarException) -> None:
    # A transient failure never costs the account its connection: it stays usable and is retried.
    account.status = Status.REFRESH_FAILING
    account.consecutive_failures += 1
    account.last_refresh_error = redact_text(str(exc))[:255]
    account.save(update_fields=["status", "consecutive_failures", "last_refresh_error", "updated_at"])
    logger.warning(
        "Refreshing Smartcar account %s failed (%s attempt(s)): %s",
        account.pk,
        account.consecutive_failures,
        exc,
    )


def _copy_token_fields(source: SmartcarAccount, target: SmartcarAccount) -> None:
    # The caller's instance sees the new state without another query.
    if source is target:
        return
    for field in (
        "access_token_encrypted",
        "refresh_token_encrypted",
        "access_expires_at",
        "refresh_expires_at",
        "status",
        "consecutive_failures",
        "last_refresh_error",
        "last_refreshed_at",
        "updated_at",
    ):
        setattr(target, field, getattr(source, field))

"""Scheduled refresh-token rotation: which accounts are due, claiming them once, rotating one, raising alarms.

Refresh tokens die 60 days after they were issued and a dead one costs the user a reconnect, so the beat
rotates every token well inside that, spreading accounts over a few days with a jitter that is stable per
account (the same account is always due at the same point of its window).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from .. import client, signals
from ..client.transport import backoff_delay
from ..conf import smartcar_settings
from ..exceptions import AccountUnavailable, ReauthenticationRequired
from ..models import USABLE_STATUSES, SmartcarAccount
from .tokens import exchange_in_bulk, refresh_expiring, rotate_tokens
from .tokens import is_transient as is_transient  # re-exported: the tasks decide their retries with it

logger = logging.getLogger(__name__)


def rotation_jitter(account_id: int) -> timedelta:
    """A delay in ``[0, ROTATION_JITTER)`` derived from the account id: stable across runs and processes."""
    spread: timedelta = smartcar_settings.ROTATION_JITTER
    if spread <= timedelta(0):
        return timedelta(0)
    fraction = int.from_bytes(hashlib.sha256(str(account_id).encode()).digest()[:8], "big") / 2**64
    return spread * fraction


def is_due(account_id: int, refresh_expires_at: datetime, now: datetime | None = None) -> bool:
    """Whether the account's refresh token should be rotated now (window minus its jitter)."""
    now = now or timezone.now()
    window: timedelta = smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW
    return refresh_expires_at <= now + window - rotation_jitter(account_id)


def expiring_account_ids(within: timedelta | None = None, now: datetime | None = None) -> Iterator[int]:
    """Ids of usable accounts whose refresh token expires within ``within`` (default: the rotation window).

    Streams from the database in chunks, so it costs the same memory for a hundred accounts as for a million.
    """
    now = now or timezone.now()
    within = smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW if within is None else within
    queryset = (
        SmartcarAccount.objects.filter(status__in=USABLE_STATUSES, refresh_expires_at__lte=now + within)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    yield from queryset.iterator(chunk_size=int(smartcar_settings.FANOUT_CHUNK_SIZE))


def claim_due_accounts(now: datetime | None = None) -> Iterator[list[int]]:
    """Yield chunks of due account ids, each account claimed (``rotation_queued_at = now``) exactly once.

    A claim is a conditional UPDATE that only touches rows nobody claimed since ``ROTATION_REQUEUE_AFTER``; the
    database serializes concurrent UPDATEs of a row and re-checks the condition, so two beats running at once
    (or the next beat, while tasks are still queued) never queue the same account twice, on any database and
    without holding a lock between queries.
    """
    now = now or timezone.now()
    chunk_size = int(smartcar_settings.FANOUT_CHUNK_SIZE)
    horizon = now + smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW
    unclaimed = Q(rotation_queued_at__isnull=True) | Q(
        rotation_queued_at__lt=now - smartcar_settings.ROTATION_REQUEUE_AFTER
    )
    # Only v2 accounts hold refresh tokens (a V3 account's refresh_expires_at is None).
    candidates = SmartcarAccount.objects.filter(
        unclaimed,
        status__in=USABLE_STATUSES,
        api_version=SmartcarAccount.ApiVersion.V2,
        refresh_expires_at__lte=horizon,
    )
    last_pk = 0
    while True:
        rows = list(
            candidates.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "refresh_expires_at")[:chunk_size]
        )
        if not rows:
            return
        last_pk = rows[-1][0]
        due = [pk for pk, expires_at in rows if expires_at is not None and is_due(pk, expires_at, now)]
        if not due:
            continue
        SmartcarAccount.objects.filter(unclaimed, pk__in=due).update(rotation_queued_at=now)
        claimed = list(
            SmartcarAccount.objects.filter(pk__in=due, rotation_queued_at=now).values_list("pk", flat=True)
        )
        if claimed:
            yield claimed


@dataclass(frozen=True)
class RotationOutcome:
    account_id: int
    # "rotated", "skipped" (nothing to do), "reauth_required", "unavailable" or "missing"; in a chunk also
    # "locked" (another process held the account) and "failed" (``error``, recorded on the account).
    outcome: str
    error: client.SmartcarException | None = field(default=None, repr=False, compare=False)

    @property
    def to_retry(self) -> bool:
        """Whether a chunk's task should try this account again later: it was locked, or failed transiently."""
        return self.outcome == "locked" or (self.error is not None and is_transient(self.error))


def rotate_account(account_id: int, *, force: bool = False) -> RotationOutcome:
    """Rotate one account's tokens if still due. Transient Smartcar errors are raised for the caller to retry."""
    account = SmartcarAccount.objects.filter(pk=account_id).first()
    if account is None:
        return RotationOutcome(account_id, "missing")
    try:
        rotated = rotate_tokens(account, force=force)
    except ReauthenticationRequired:
        outcome = "reauth_required"
    except AccountUnavailable:
        outcome = "unavailable"
    except client.SmartcarException as exc:
        alert_if_expiring(account, exc)
        raise
    else:
        outcome = "rotated" if rotated else "skipped"
    SmartcarAccount.objects.filter(pk=account_id).update(rotation_queued_at=None)
    return RotationOutcome(account_id, outcome)


def claim_rotation_chunks(now: datetime | None = None) -> Iterator[list[int]]:
    """``claim_due_accounts`` regrouped into chunks of ``ROTATION_CHUNK_SIZE``: one chunk per task, so that a
    worker keeps up to ``ROTATION_MAX_IN_FLIGHT`` exchanges in flight instead of one per task."""
    size = int(smartcar_settings.ROTATION_CHUNK_SIZE)
    chunk: list[int] = []
    for claimed in claim_due_accounts(now):
        chunk.extend(claimed)
        while len(chunk) >= size:
            yield chunk[:size]
            chunk = chunk[size:]
    if chunk:
        yield chunk


def rotate_accounts(account_ids: Iterable[int], *, max_in_flight: int | None = None) -> list[RotationOutcome]:
    """Rotate the accounts still due among ``account_ids``, many exchanges in flight at once.

    The same rules as ``rotate_account``, one account at a time, through ``tokens.exchange_in_bulk``: locks,
    the in-flight marker, encrypted storage, signals, the expiry alarm for a failure. The claim
    (``rotation_queued_at``) is released, in one query, for every account that is done; an account to try
    again (``RotationOutcome.to_retry``) keeps it, as does one that failed for good, which the beat claims
    again after ``ROTATION_REQUEUE_AFTER``, as when a single account's task gives up.
    """
    limit = int(smartcar_settings.ROTATION_MAX_IN_FLIGHT if max_in_flight is None else max_in_flight)
    outcomes = []
    for result in exchange_in_bulk(account_ids, needed=refresh_expiring, max_in_flight=limit):
        if result.error is not None and result.account is not None:
            alert_if_expiring(result.account, result.error)
        outcome = "rotated" if result.outcome == "exchanged" else result.outcome
        outcomes.append(RotationOutcome(result.account_id, outcome, result.error))
    done = [outcome.account_id for outcome in outcomes if outcome.outcome not in ("locked", "failed")]
    if done:
        SmartcarAccount.objects.filter(pk__in=done).update(rotation_queued_at=None)
    return outcomes


def retry_after(outcomes: Iterable[RotationOutcome]) -> int | None:
    """The longest Retry-After Smartcar asked for among a chunk's failures (None: none asked)."""
    asked = [o.error.retry_after for o in outcomes if o.error is not None and o.error.retry_after is not None]
    return max(asked) if asked else None


def alert_if_expiring(account: SmartcarAccount, error: Exception) -> None:
    """Log at ERROR and signal when a failed rotation leaves the refresh token close to death."""
    expires_at = account.refresh_expires_at
    if expires_at is None or expires_at > timezone.now() + smartcar_settings.EXPIRY_ALERT_WINDOW:
        return
    logger.error(
        "Rotating the refresh token of Smartcar account %s failed and it expires at %s: %s",
        account.pk,
        expires_at.isoformat(),
        error,
    )
    signals.refresh_token_expiring.send(
        sender=SmartcarAccount, account=account, expires_at=account.refresh_expires_at, error=error
    )


def retry_delay(retries: int, retry_after: int | None = None) -> float:
    """Seconds before retry number ``retries + 1``: Smartcar's Retry-After, else the client's doubling backoff
    with jitter (``client.transport.backoff_delay``) from ``RETRY_BACKOFF``, uncapped.

    The first retries come quickly on purpose: if Smartcar rotated the token but the answer was lost, the old
    refresh token only keeps working for one minute.
    """
    if retry_after is not None:
        return float(retry_after)
    return backoff_delay(retries, float(smartcar_settings.RETRY_BACKOFF))

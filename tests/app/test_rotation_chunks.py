"""Rotation in chunks: many token exchanges in flight from one task, against the live simulator over HTTP.

The same rules as one account at a time (lock, in-flight marker, encrypted storage, signals, outcomes), with
accounts locked elsewhere skipped instead of waited for, and failures re-queued instead of slept on.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import router
from django.utils import timezone

from django_smartcar import crypto
from django_smartcar.models import SmartcarAccount
from django_smartcar.services import rotation
from django_smartcar.services.tokens import account_lock
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import RefreshToken
from django_smartcar.simulator.tokens import digest
from django_smartcar.tasks import rotate_accounts_tokens, rotate_expiring_tokens

from .conftest import make_accounts

Status = SmartcarAccount.Status
TOKEN_LATENCY_MS = 400


@pytest.fixture
def celery_eager(settings):
    """Queued tasks run inline, their retries (with new arguments) included; countdowns are not waited for."""
    from tests.celery_app import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def no_jitter(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_JITTER": timedelta(0)}


def live(refresh_token: str) -> bool:
    """Whether the simulator would accept this refresh token: issued, unexpired, never presented."""
    return RefreshToken.objects.filter(
        token_hash=digest(refresh_token), rotated_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()


def claim(accounts) -> None:
    SmartcarAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(rotation_queued_at=timezone.now())


class Retries(list):
    """Every ``retry`` the chunk task asked for, as ``(account_ids, countdown)``."""

    def __init__(self) -> None:
        super().__init__()
        self.before_retry: list = []


@pytest.fixture
def retries(monkeypatch) -> Retries:
    """Records each ``retry`` of the chunk task, then lets it run as asked (inline, under ``celery_eager``);
    ``before_retry`` hooks run first (to release a lock, say)."""
    asked = Retries()
    original = rotate_accounts_tokens.retry

    def spy(*args, **kwargs):
        asked.append((list(kwargs["args"][0]), kwargs["countdown"]))
        for hook in asked.before_retry:
            hook()
        return original(*args, **kwargs)

    monkeypatch.setattr(rotate_accounts_tokens, "retry", spy)
    return asked


def test_a_chunk_rotates_every_account_with_one_token_request_each_many_in_flight(
    smartcar, user, settings, record_signal
):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_MAX_IN_FLIGHT": 15}
    refreshed = record_signal("tokens_refreshed")
    accounts = make_accounts(smartcar, user, 30, refresh_expires_in=timedelta(days=2))
    claim(accounts)
    old = {account.pk: account.refresh_token for account in accounts}
    issued_before = RefreshToken.objects.count()
    # Every token request waits in the simulator: one after the other, 30 would take 12 s.
    faults.inject("latency", target="token", latency_ms=TOKEN_LATENCY_MS)

    started = time.monotonic()
    outcomes = rotation.rotate_accounts([account.pk for account in accounts])
    elapsed = time.monotonic() - started

    assert sorted(o.account_id for o in outcomes) == sorted(old)
    assert {o.outcome for o in outcomes} == {"rotated"}
    # Exactly one exchange per account: one new refresh token issued each, each old one presented once.
    assert RefreshToken.objects.count() == issued_before + 30
    assert not any(live(token) for token in old.values())
    assert elapsed < 30 * TOKEN_LATENCY_MS / 1000 / 3, f"{elapsed:.1f} s: the exchanges did not overlap"
    for account in SmartcarAccount.objects.filter(pk__in=old):
        assert account.status == Status.ACTIVE and account.token_exchange_started_at is None
        assert account.rotation_queued_at is None
        assert account.refresh_expires_at > timezone.now() + timedelta(days=59)
        # Stored encrypted, and the stored token is the one Smartcar now accepts.
        assert account.refresh_token not in account.refresh_token_encrypted
        assert crypto.decrypt(account.refresh_token_encrypted) == account.refresh_token
        assert account.refresh_token != old[account.pk] and live(account.refresh_token)
    assert sorted(call["account"].pk for call in refreshed.calls) == sorted(old)


def test_accounts_no_longer_due_or_unusable_are_not_exchanged(smartcar, user):
    due, fresh, revoked = make_accounts(smartcar, user, 3, refresh_expires_in=timedelta(days=2))
    SmartcarAccount.objects.filter(pk=fresh.pk).update(refresh_expires_at=timezone.now() + timedelta(days=59))
    SmartcarAccount.objects.filter(pk=revoked.pk).update(status=Status.REAUTH_REQUIRED)
    fresh_token, revoked_token = fresh.refresh_token, revoked.refresh_token

    outcomes = {
        o.account_id: o.outcome for o in rotation.rotate_accounts([due.pk, fresh.pk, revoked.pk, 999999])
    }

    assert outcomes == {
        due.pk: "rotated",
        fresh.pk: "skipped",
        revoked.pk: "reauth_required",
        999999: "missing",
    }
    assert live(fresh_token) and live(revoked_token)


class HeldLock:
    """The account's token lock held by another thread (its own database connection), as another process
    exchanging that account's token would hold it."""

    def __init__(self, account_pk: int) -> None:
        self.account_pk = account_pk
        self.taken, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        from django.db import connections

        try:
            with account_lock(router.db_for_write(SmartcarAccount), self.account_pk):
                self.taken.set()
                self.release.wait(30)
        finally:
            connections.close_all()

    def __enter__(self) -> HeldLock:
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self.thread.join(10)


def test_a_locked_account_is_skipped_not_waited_for_and_rotated_on_the_retry(
    smartcar, user, celery_eager, retries, no_jitter
):
    first, locked, last = make_accounts(smartcar, user, 3, refresh_expires_in=timedelta(days=2))
    claim([first, locked, last])
    old = {account.pk: account.refresh_token for account in (first, locked, last)}

    with HeldLock(locked.pk) as held:
        retries.before_retry.append(held.__exit__)
        started = time.monotonic()
        result = rotate_accounts_tokens.delay([first.pk, locked.pk, last.pk]).get()
        elapsed = time.monotonic() - started

    # Only the locked account was sent again, and only once its lock was free did its token move.
    assert len(retries) == 1 and retries[0][0] == [locked.pk] and retries[0][1] > 0
    assert result == {"rotated": 1}
    assert elapsed < 10
    for account in SmartcarAccount.objects.filter(pk__in=old):
        assert account.refresh_token != old[account.pk] and live(account.refresh_token)
        assert account.rotation_queued_at is None


def test_a_locked_account_keeps_its_claim_and_no_request_is_made_for_it(smartcar, user):
    free, locked = make_accounts(smartcar, user, 2, refresh_expires_in=timedelta(days=2))
    claim([free, locked])
    with HeldLock(locked.pk):
        outcomes = {o.account_id: o for o in rotation.rotate_accounts([free.pk, locked.pk])}

    assert outcomes[free.pk].outcome == "rotated" and outcomes[locked.pk].outcome == "locked"
    assert outcomes[locked.pk].to_retry
    locked.refresh_from_db()
    assert live(locked.refresh_token) and locked.token_exchange_started_at is None
    assert locked.rotation_queued_at is not None  # still claimed: the beat does not queue it twice


def test_a_transient_failure_is_requeued_with_its_retry_after_and_rotated(
    smartcar, user, celery_eager, retries
):
    accounts = make_accounts(smartcar, user, 3, refresh_expires_in=timedelta(days=2))
    claim(accounts)
    old = {account.pk: account.refresh_token for account in accounts}
    issued_before = RefreshToken.objects.count()
    # The first token request is refused with 429 and Retry-After: 7; the others go through.
    faults.inject("rate_limit", target="token", retry_after=7, remaining=1)

    rotate_accounts_tokens.delay([account.pk for account in accounts]).get()

    assert len(retries) == 1
    (failed,), countdown = retries[0]
    assert failed in old and countdown == 7
    assert RefreshToken.objects.count() == issued_before + 3
    for account in SmartcarAccount.objects.filter(pk__in=old):
        assert account.status == Status.ACTIVE and account.consecutive_failures == 0
        assert account.refresh_token != old[account.pk] and live(account.refresh_token)
        assert account.rotation_queued_at is None


def test_a_lost_answer_keeps_the_exchange_marked_and_the_retry_resumes_it(
    smartcar, user, celery_eager, retries
):
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=2))
    old = account.refresh_token
    # Smartcar rotates, then the answer is lost (a gateway's 504): the old token lives on for its grace only.
    faults.inject("lose_token_response", remaining=1)
    seen_during_retry: list[SmartcarAccount] = []
    retries.before_retry.append(lambda: seen_during_retry.append(SmartcarAccount.objects.get(pk=account.pk)))

    rotate_accounts_tokens.delay([account.pk]).get()

    (marked,) = seen_during_retry
    assert marked.token_exchange_started_at is not None and marked.status == Status.REFRESH_FAILING
    account.refresh_from_db()
    assert account.status == Status.ACTIVE and account.token_exchange_started_at is None
    assert account.refresh_token != old and live(account.refresh_token)


def test_invalid_grant_in_a_chunk_ends_in_reauth_required_without_retrying(
    smartcar, user, celery_eager, retries, record_signal
):
    reauth = record_signal("reauth_required")
    good, revoked = make_accounts(smartcar, user, 2, refresh_expires_in=timedelta(days=2))
    SmartcarAccount.objects.filter(pk=revoked.pk).update(refresh_token_encrypted=crypto.encrypt("revoked"))

    result = rotate_accounts_tokens.delay([good.pk, revoked.pk]).get()

    assert result == {"rotated": 1, "reauth_required": 1} and retries == []
    revoked.refresh_from_db()
    assert revoked.status == Status.REAUTH_REQUIRED
    assert [call["account"].pk for call in reauth.calls] == [revoked.pk]


def test_the_beat_queues_chunks_of_rotation_chunk_size(smartcar, user, settings, monkeypatch, no_jitter):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_CHUNK_SIZE": 2, "FANOUT_CHUNK_SIZE": 3}
    accounts = make_accounts(smartcar, user, 5, refresh_expires_in=timedelta(days=2))
    queued: list[list[int]] = []
    monkeypatch.setattr(rotate_accounts_tokens, "delay", lambda ids: queued.append(list(ids)))

    assert rotate_expiring_tokens() == 5

    assert [len(chunk) for chunk in queued] == [2, 2, 1]
    assert sorted(pk for chunk in queued for pk in chunk) == sorted(a.pk for a in accounts)


def test_the_chunk_task_goes_back_to_the_broker_when_its_worker_process_dies():
    assert rotate_accounts_tokens.name == "django_smartcar.rotate_accounts_tokens"
    assert rotate_accounts_tokens.acks_late and rotate_accounts_tokens.reject_on_worker_lost

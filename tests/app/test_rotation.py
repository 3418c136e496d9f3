"""Scheduled refresh-token rotation: selection window, jitter, claiming, retries and failure paths."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_smartcar.models import SmartcarAccount
from django_smartcar.services import rotation
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import RefreshToken
from django_smartcar.tasks import rotate_account_tokens, rotate_expiring_tokens
from tests.races import CriticalSections, overlapping_pairs

from .conftest import make_accounts

Status = SmartcarAccount.Status


@pytest.fixture
def celery_eager(settings):
    """Run queued tasks inline (retries included), so a test sees the whole fan-out against the simulator."""
    from tests.celery_app import app

    # Not task_eager_propagates: it would raise Celery's Retry instead of letting the task retry; .get() still
    # raises a task's final error.
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def test_jitter_is_stable_per_account_and_spreads_accounts(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_JITTER": timedelta(days=2)}
    assert rotation.rotation_jitter(42) == rotation.rotation_jitter(42)
    jitters = {rotation.rotation_jitter(pk) for pk in range(200)}
    assert len(jitters) == 200
    assert all(timedelta(0) <= jitter < timedelta(days=2) for jitter in jitters)
    # Spread over the whole range, not bunched at one end.
    assert min(jitters) < timedelta(hours=6) and max(jitters) > timedelta(days=1, hours=18)


def test_an_account_is_due_when_its_window_minus_jitter_opens(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "REFRESH_TOKEN_ROTATION_WINDOW": timedelta(days=10)}
    now = timezone.now()
    opens_at = now + timedelta(days=10) - rotation.rotation_jitter(7)
    assert rotation.is_due(7, opens_at, now)
    assert not rotation.is_due(7, opens_at + timedelta(seconds=1), now)


@pytest.mark.django_db
def test_claiming_selects_only_due_usable_accounts_once(django_user_model, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_JITTER": timedelta(0)}
    owner = django_user_model.objects.create(username="owner")
    now = timezone.now()

    def account(name, expires_in, status=Status.ACTIVE):
        row = SmartcarAccount(owner=owner, smartcar_user_id=name, status=status)
        row.access_token = row.refresh_token = "unused"
        row.access_expires_at = now
        row.refresh_expires_at = now + expires_in
        row.save()
        return row.pk

    due = account("due", timedelta(days=3))
    failing = account("failing", timedelta(days=1), Status.REFRESH_FAILING)
    account("later", timedelta(days=30))
    account("dead", timedelta(days=1), Status.REAUTH_REQUIRED)
    account("gone", timedelta(days=1), Status.DISCONNECTED)

    assert sorted(pk for chunk in rotation.claim_due_accounts(now) for pk in chunk) == [due, failing]
    # Claimed rows are not claimed again by the next beat...
    assert list(rotation.claim_due_accounts(now + timedelta(minutes=5))) == []
    # ...until the requeue delay has passed (their task may have died).
    later = now + settings.SMARTCAR.get("ROTATION_REQUEUE_AFTER", timedelta(hours=1)) + timedelta(minutes=1)
    assert sorted(pk for chunk in rotation.claim_due_accounts(later) for pk in chunk) == [due, failing]


@pytest.mark.django_db
def test_claiming_streams_in_bounded_chunks(django_user_model, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_JITTER": timedelta(0), "FANOUT_CHUNK_SIZE": 4}
    owner = django_user_model.objects.create(username="owner")
    for index in range(10):
        row = SmartcarAccount(owner=owner, smartcar_user_id=f"user-{index}")
        row.access_token = row.refresh_token = "unused"
        row.access_expires_at = row.refresh_expires_at = timezone.now()
        row.save()
    assert [len(chunk) for chunk in rotation.claim_due_accounts()] == [4, 4, 2]


def test_two_beats_at_once_queue_each_account_once(transactional_db, django_user_model, settings):
    """Threads with their own connections claim concurrently (PostgreSQL in CI's second leg).

    The beats go in step: each asks for its next chunk only when the other is ready to as well, so their claims
    run over the same rows at the same time (dozens of rounds, so a claim that is not exclusive shows); the
    test fails unless their claims did overlap. Each statement of a claim holds it a few milliseconds longer:
    a claim otherwise takes under a millisecond, and on a loaded machine the other thread was often not even
    scheduled before it ended (the beats then took turns, and the race did not happen).
    """
    ACCOUNTS = 200
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_JITTER": timedelta(0), "FANOUT_CHUNK_SIZE": 5}
    owner = django_user_model.objects.create(username="owner")
    for index in range(ACCOUNTS):
        row = SmartcarAccount(owner=owner, smartcar_user_id=f"user-{index}")
        row.access_token = row.refresh_token = "unused"
        row.access_expires_at = row.refresh_expires_at = timezone.now()
        row.save()
    claimed: list[list[int]] = [[], []]
    sections = [CriticalSections(), CriticalSections()]
    step = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def widened(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        time.sleep(0.005)  # inside the claim's transaction; releases the GIL for the other beat
        return result

    def beat(slot: int) -> None:
        chunks = rotation.claim_due_accounts()
        try:
            with connection.execute_wrapper(widened):
                run_in_step(slot, chunks)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            step.abort()
        finally:
            connection.close()

    def run_in_step(slot: int, chunks) -> None:
        while True:
            with contextlib.suppress(threading.BrokenBarrierError):
                step.wait()  # in step with the other beat, until one of them has claimed its last chunk
            with sections[slot].inside():
                chunk = next(chunks, None)
            if chunk is None:
                step.abort()
                return
            claimed[slot].extend(chunk)

    threads = [threading.Thread(target=beat, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == [] and not any(thread.is_alive() for thread in threads)
    overlaps = overlapping_pairs(sections[0].spans, sections[1].spans)
    assert overlaps >= 2, f"The beats' claims did not overlap: {sections[0].spans} / {sections[1].spans}"
    everything = claimed[0] + claimed[1]
    assert len(everything) == ACCOUNTS and len(set(everything)) == ACCOUNTS


def test_the_beat_task_rotates_every_due_account(smartcar, user, celery_eager, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ROTATION_JITTER": timedelta(0)}
    due = make_accounts(smartcar, user, 3, refresh_expires_in=timedelta(days=2))
    fresh = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=59), prefix="fresh")[0]
    tokens_before = {account.pk: account.refresh_token for account in due}

    assert rotate_expiring_tokens.delay().get() == 3
    # Running it again is harmless: nothing is due any more.
    assert rotate_expiring_tokens.delay().get() == 0

    for account in due:
        account.refresh_from_db()
        assert account.refresh_token != tokens_before[account.pk]
        assert account.refresh_expires_at > timezone.now() + timedelta(days=59, hours=23)
        assert account.rotation_queued_at is None and account.status == Status.ACTIVE
    fresh_before = fresh.refresh_token_encrypted
    fresh.refresh_from_db()
    assert fresh.refresh_token_encrypted == fresh_before


def test_transient_failures_are_retried_until_rotation_succeeds(smartcar, user, celery_eager):
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=2))
    # The token endpoint fails twice (502, then 429 with Retry-After), then answers.
    faults.inject("server_errors", target="token", statuses=[502], remaining=1)
    faults.inject("rate_limit", target="token", retry_after=0, remaining=1)
    before = RefreshToken.objects.count()

    assert rotate_account_tokens.delay(account.pk).get() == "rotated"

    account.refresh_from_db()
    assert account.status == Status.ACTIVE and account.consecutive_failures == 0
    assert RefreshToken.objects.count() == before + 1


def test_retry_delays_back_off_with_jitter_and_honour_retry_after(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "RETRY_BACKOFF": 4}
    delays = [[rotation.retry_delay(retries) for _ in range(50)] for retries in range(4)]
    for retries, samples in enumerate(delays):
        ceiling = 4 * 2**retries
        assert all(ceiling / 2 <= delay <= ceiling for delay in samples)
        assert len(set(samples)) > 1
    assert rotation.retry_delay(3, retry_after=17) == 17


def test_invalid_grant_ends_in_reauth_required_without_retrying(smartcar, user, celery_eager, record_signal):
    reauth = record_signal("reauth_required")
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=2))
    SmartcarAccount.objects.filter(pk=account.pk).update(refresh_token_encrypted=_encrypted("revoked-token"))

    assert rotate_account_tokens.delay(account.pk).get() == "reauth_required"

    account.refresh_from_db()
    assert account.status == Status.REAUTH_REQUIRED
    assert [call["account"].pk for call in reauth.calls] == [account.pk]


def test_a_failing_rotation_close_to_expiry_is_logged_and_signalled(smartcar, user, caplog, record_signal):
    expiring = record_signal("refresh_token_expiring")
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(hours=20))
    faults.inject("server_errors", target="token", statuses=[502])

    with caplog.at_level(logging.ERROR, logger="django_smartcar"), pytest.raises(Exception):  # noqa: B017
        rotation.rotate_account(account.pk)

    assert any(
        record.levelno == logging.ERROR and str(account.pk) in record.getMessage()
        for record in caplog.records
    )
    assert [call["account"].pk for call in expiring.calls] == [account.pk]
    account.refresh_from_db()
    assert account.status == Status.REFRESH_FAILING  # a transient fault never costs the connection
    assert account.refresh_token not in caplog.text


def _encrypted(value: str) -> str:
    from django_smartcar import crypto

    return crypto.encrypt(value)


def test_a_refresh_task_retries_a_transient_failure_until_the_data_is_read(account, celery_eager):
    from django_smartcar.tasks import refresh_vehicle_data

    vehicle = account.vehicles.order_by("pk").first()
    # More 502s than the client's own attempts: the task itself must retry (the same policy as rotation's).
    faults.inject("server_errors", statuses=[502], remaining=4)

    assert "odometer" in refresh_vehicle_data.delay(vehicle.pk).get()

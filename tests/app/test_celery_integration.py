"""A real Celery worker and beat, as separate processes, rotate expiring tokens at the live simulator.

The broker is Redis when CELERY_BROKER_URL names it (CI's PostgreSQL + Redis leg) and kombu's filesystem
transport otherwise; the database is the test database, whichever it is.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_smartcar.models import SmartcarAccount
from tests.processes import child_env, start_beat, start_worker, stop, wait_for

from .conftest import make_accounts

# Starts Celery worker processes: make test runs these one at a time, after the rest (see pyproject.toml).
pytestmark = pytest.mark.worker_processes


def test_beat_and_worker_rotate_every_expiring_account(smartcar, user, tmp_path, private_broker):
    accounts = make_accounts(smartcar, user, 5, refresh_expires_in=timedelta(hours=30))
    untouched = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=45), prefix="later")[0]
    old_tokens = {account.pk: account.refresh_token_encrypted for account in accounts}

    env = child_env(smartcar, DJANGO_SMARTCAR_TEST_BEAT_SECONDS="1", **private_broker)
    worker, worker_log = start_worker(env, tmp_path, concurrency=4, purge=True)
    beat = None
    try:
        beat, beat_log = start_beat(env, tmp_path)
        soon = timezone.now() + timedelta(days=59)
        wait_for(
            lambda: (
                SmartcarAccount.objects.filter(pk__in=old_tokens, refresh_expires_at__gt=soon).count() == 5
            ),
            "beat and worker to rotate all five accounts",
            [worker_log, beat_log],
        )
    finally:
        stop(beat, worker)

    for account in SmartcarAccount.objects.filter(pk__in=old_tokens):
        assert account.status == SmartcarAccount.Status.ACTIVE
        assert account.refresh_token_encrypted != old_tokens[account.pk]
        # The stored token is the live one: Smartcar accepts it.
        assert account.refresh_token
    untouched_before = untouched.refresh_expires_at
    untouched.refresh_from_db()
    assert untouched.refresh_expires_at == untouched_before
    assert "rotate_accounts_tokens" in worker_log.read_text()

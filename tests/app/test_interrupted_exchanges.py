"""A process killed while its token request is in flight: Smartcar rotates, nobody receives the new pair.

Real processes, killed with SIGKILL by PID, against the live simulator (whose latency fault keeps the request
in flight). The account must come back before Smartcar's one-minute reuse window closes, without any
``invalid_grant``: through the next page that asks for a token, the recovery beat, or a fresh worker + beat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from django_smartcar.models import SmartcarAccount
from django_smartcar.services.clients import get_auth_client
from django_smartcar.services.tokens import get_access_token
from django_smartcar.simulator import clock, faults
from django_smartcar.simulator.models import Fault, RefreshToken
from django_smartcar.simulator.tokens import digest
from django_smartcar.simulator.views import oauth
from tests.processes import ROOT, child_env, start_beat, start_worker, wait_for

from .conftest import make_accounts

# The simulator's grace for a used refresh token, set to the older documentation's one minute (the shortest).
REFRESH_TOKEN_GRACE = timedelta(minutes=1)
pytestmark = [pytest.mark.worker_processes, pytest.mark.usefixtures("one_minute_refresh_grace")]

Status = SmartcarAccount.Status
# Long enough to kill the caller while the simulator holds its request; shorter than REQUEST_TIMEOUT.
IN_FLIGHT_MS = 3000

KILLED_ROTATION_SCRIPT = """
import sys
import django
django.setup()
from django_smartcar.models import SmartcarAccount
from django_smartcar.services.tokens import rotate_tokens
rotate_tokens(SmartcarAccount.objects.get(pk=int(sys.argv[1])), force=True)
print("finished")
"""


@pytest.fixture
def oauth_errors(monkeypatch) -> list[str]:
    """Every OAuth error the simulator answers during the test (``invalid_grant`` above all)."""
    answered: list[str] = []
    original = oauth.oauth_error

    def recording(error: str, *args, **kwargs):
        answered.append(error)
        return original(error, *args, **kwargs)

    monkeypatch.setattr(oauth, "oauth_error", recording)
    return answered


def hold_next_token_request() -> Fault:
    """The next token request waits IN_FLIGHT_MS in the simulator, then Smartcar rotates and answers."""
    return faults.inject("latency", target="token", latency_ms=IN_FLIGHT_MS, remaining=1)


def request_in_flight(fault: Fault, account: SmartcarAccount) -> Callable[[], bool]:
    """True once the simulator holds the request (the fault was used) and the caller marked the account."""

    def check() -> bool:
        return (
            Fault.objects.get(pk=fault.pk).remaining == 0
            and SmartcarAccount.objects.filter(
                pk=account.pk, token_exchange_started_at__isnull=False
            ).exists()
        )

    return check


def rotated_at(refresh_token: str) -> datetime | None:
    return RefreshToken.objects.get(token_hash=digest(refresh_token)).rotated_at


def assert_recovered(account: SmartcarAccount, old_refresh: str, oauth_errors: list[str]) -> None:
    account.refresh_from_db()
    assert account.status == Status.ACTIVE and account.token_exchange_started_at is None
    assert account.refresh_token != old_refresh
    assert account.refresh_expires_at > timezone.now() + timedelta(days=59)
    assert "invalid_grant" not in oauth_errors
    # The stored pair is the live one: long after the reuse window, Smartcar still takes the refresh token.
    clock.advance(REFRESH_TOKEN_GRACE.total_seconds() * 2)
    assert get_auth_client().exchange_refresh_token(account.refresh_token)["refresh_token"]


@pytest.mark.parametrize("resumer", ["the next page", "the recovery beat"])
def test_an_exchange_killed_in_a_web_process_is_resumed(smartcar, user, oauth_errors, resumer):
    """A web process (an admin's "rotate now", a gunicorn worker timed out) dies mid-refresh."""
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=30))
    old_refresh = account.refresh_token
    fault = hold_next_token_request()
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_ROTATION_SCRIPT, str(account.pk)],
        cwd=ROOT,
        env=child_env(smartcar),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            request_in_flight(fault, account), "the rotation's token request to be in flight", timeout=60
        )
    finally:
        os.kill(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL and "finished" not in out, err[-2000:]
    # Smartcar rotates once the latency is over; the answer goes to a dead socket.
    wait_for(lambda: rotated_at(old_refresh) is not None, "the simulator to rotate the token", timeout=30)

    account = SmartcarAccount.objects.get(pk=account.pk)
    if resumer == "the next page":
        # Its access token is still valid, yet the page resumes the exchange it finds marked.
        assert account.access_expires_at > timezone.now() + timedelta(hours=1)
        get_access_token(account)
    else:
        from django_smartcar.tasks import resume_interrupted_token_exchanges

        assert resume_interrupted_token_exchanges() == 1
    assert_recovered(account, old_refresh, oauth_errors)


def test_a_worker_killed_mid_rotation_is_recovered_by_a_fresh_worker_and_beat(
    smartcar, user, oauth_errors, tmp_path, capsys, private_broker
):
    from django_smartcar.tasks import rotate_account_tokens
    from tests.celery_app import app  # noqa: F401  (configures the broker the task is sent to)

    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=2))
    old_refresh = account.refresh_token
    env = child_env(smartcar, **private_broker)
    processes: list[subprocess.Popen] = []
    try:
        first, first_log = start_worker(env, tmp_path, name="first-worker", purge=True)
        processes.append(first)
        fault = hold_next_token_request()
        rotate_account_tokens.delay(account.pk)
        wait_for(request_in_flight(fault, account), "the rotation's token request", [first_log], timeout=60)

        os.kill(first.pid, signal.SIGKILL)  # --pool threads: one process
        killed_at = time.monotonic()
        assert first.wait(timeout=30) == -signal.SIGKILL
        wait_for(lambda: rotated_at(old_refresh) is not None, "the simulator to rotate the token", timeout=30)
        rotation_time = rotated_at(old_refresh)

        second, second_log = start_worker(env, tmp_path, name="second-worker")
        processes.append(second)
        beat, beat_log = start_beat(env, tmp_path)
        processes.append(beat)
        logs = [first_log, second_log, beat_log]
        # Recovered while Smartcar still accepts the old token (the simulator's grace is the one-minute case).
        wait_for(
            lambda: (
                SmartcarAccount.objects.filter(
                    pk=account.pk, token_exchange_started_at__isnull=True, status=Status.ACTIVE
                )
                .exclude(refresh_token_encrypted=account.refresh_token_encrypted)
                .exists()
            ),
            "a fresh worker and beat to resume the exchange",
            logs,
            timeout=REFRESH_TOKEN_GRACE.total_seconds(),
        )
        recovered_after = time.monotonic() - killed_at
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    account.refresh_from_db()
    assert account.last_refreshed_at - rotation_time < REFRESH_TOKEN_GRACE
    assert "Resuming the token exchange" in second_log.read_text()
    assert_recovered(account, old_refresh, oauth_errors)
    with capsys.disabled():
        print(f"\nworker killed mid-rotation: account recovered {recovered_after:.1f} s after the kill")


def test_a_worker_killed_mid_chunk_loses_no_account(smartcar, user, oauth_errors, tmp_path, private_broker):
    from django_smartcar.tasks import rotate_accounts_tokens
    from tests.celery_app import app  # noqa: F401  (configures the broker the task is sent to)

    accounts = make_accounts(smartcar, user, 3, refresh_expires_in=timedelta(days=2))
    old_refresh = {account.pk: account.refresh_token for account in accounts}
    env = child_env(smartcar, **private_broker)
    processes: list[subprocess.Popen] = []
    try:
        first, first_log = start_worker(env, tmp_path, name="first-worker", purge=True)
        processes.append(first)
        # Every exchange of the chunk is held in the simulator while the worker dies.
        fault = faults.inject("latency", target="token", latency_ms=IN_FLIGHT_MS, remaining=len(accounts))
        rotate_accounts_tokens.delay(list(old_refresh))
        wait_for(
            lambda: (
                Fault.objects.get(pk=fault.pk).remaining == 0
                and SmartcarAccount.objects.filter(
                    pk__in=old_refresh, token_exchange_started_at__isnull=False
                ).count()
                == len(accounts)
            ),
            "the chunk's token requests",
            [first_log],
            timeout=60,
        )

        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        wait_for(
            lambda: all(rotated_at(token) is not None for token in old_refresh.values()),
            "the simulator to rotate every token",
            timeout=30,
        )

        second, second_log = start_worker(env, tmp_path, name="second-worker")
        processes.append(second)
        beat, beat_log = start_beat(env, tmp_path)
        processes.append(beat)
        wait_for(
            lambda: (
                SmartcarAccount.objects.filter(
                    pk__in=old_refresh, token_exchange_started_at__isnull=True, status=Status.ACTIVE
                )
                .exclude(refresh_token_encrypted__in=[a.refresh_token_encrypted for a in accounts])
                .count()
                == len(accounts)
            ),
            "a fresh worker and beat to resume every exchange of the chunk",
            [first_log, second_log, beat_log],
            timeout=REFRESH_TOKEN_GRACE.total_seconds(),
        )
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    for account in accounts:
        assert_recovered(account, old_refresh[account.pk], oauth_errors)


def test_the_rotation_task_goes_back_to_the_broker_when_its_worker_process_dies():
    from django_smartcar.tasks import rotate_account_tokens

    assert rotate_account_tokens.acks_late and rotate_account_tokens.reject_on_worker_lost
    from django_smartcar.tasks import rotate_accounts_tokens

    assert rotate_accounts_tokens.acks_late and rotate_accounts_tokens.reject_on_worker_lost

"""Nothing is lost under faults and races: a fault soak, a lost token response, concurrent refreshes and updates.

The soak's figures are printed (run with ``-s``) and quoted in the README's Reliability section.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from django.db import connection
from django.utils import timezone
from requests.adapters import HTTPAdapter

from django_smartcar.client import SmartcarException, SmartcarTimeout, aio
from django_smartcar.models import SmartcarAccount
from django_smartcar.services import tokens
from django_smartcar.services.clients import get_transport
from django_smartcar.services.tokens import MAX_EXCHANGE_ATTEMPTS
from django_smartcar.services.vehicles import DataPoint, apply_vehicle_data
from django_smartcar.simulator import clock, faults, grants, seeding
from django_smartcar.simulator.models import FaultTarget, RefreshToken
from django_smartcar.tasks import rotate_account_tokens, rotate_expiring_tokens
from tests.processes import ROOT, child_env, stop, wait_for
from tests.races import RACE_LATENCY_MS, CriticalSections, assert_all_inside_at_once, overlapping_pairs

from .conftest import make_accounts

Status = SmartcarAccount.Status
SOAK_ACCOUNTS = int(os.environ.get("SOAK_ACCOUNTS", "1000"))


@pytest.fixture
def eager():
    from tests.celery_app import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def bulk_accounts(simulator, owner, count: int) -> list[SmartcarAccount]:
    """Accounts with real simulator tokens, made without HTTP (the soak is about rotation, not Connect)."""
    accounts = []
    for index in range(count):
        vehicles = seeding.seed_vehicles(1, seed=index, email=f"soak{index}@example.com")
        tokens = grants.connect_vehicles(simulator.application, vehicles)
        account = SmartcarAccount(
            owner=owner,
            smartcar_user_id=vehicles[0].user_id,
            mode="simulated",
            access_expires_at=timezone.now() + timedelta(hours=2),
            refresh_expires_at=timezone.now() + timedelta(days=3),
        )
        account.access_token = tokens["access_token"]
        account.refresh_token = tokens["refresh_token"]
        accounts.append(account)
    return SmartcarAccount.objects.bulk_create(accounts)


def test_fault_soak_rotates_every_account_and_loses_none(
    smartcar, user, settings, eager, capsys, monkeypatch
):
    # The pauses between repeated exchanges are compressed 100x: the soak counts requests and lost accounts, and
    # its 1,000 accounts rotate one after another (eager tasks), so real pauses would only add minutes of sleep.
    monkeypatch.setattr(tokens, "EXCHANGE_RETRY_FIRST_PAUSE", tokens.EXCHANGE_RETRY_FIRST_PAUSE / 100)
    monkeypatch.setattr(tokens, "EXCHANGE_RETRY_MAX_PAUSE", tokens.EXCHANGE_RETRY_MAX_PAUSE / 100)
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "ROTATION_JITTER": timedelta(0),
        "ROTATION_REQUEUE_AFTER": timedelta(0),  # each beat round re-queues what is still unrotated
        "REQUEST_TIMEOUT": 0.25,
        # A few exchanges in flight: the faults, not the simulator's CPU on shared cores, make the failures.
        "ROTATION_MAX_IN_FLIGHT": 4,
    }
    accounts = bulk_accounts(smartcar, user, SOAK_ACCOUNTS)
    owner_of_token = {account.refresh_token: account.pk for account in accounts}
    # About 30% of token requests fail: rate limits, server errors, gateway time-outs, and time-outs from latency.
    faults.inject("rate_limit", target="token", fraction=0.10, retry_after=0, seed=1)
    faults.inject("server_errors", target="token", fraction=0.17, statuses=[500, 502, 504], seed=2)
    faults.inject("latency", target="token", fraction=0.03, latency_ms=400, seed=3)

    attempts: Counter[int] = Counter()
    outcomes: Counter[int | str] = Counter()

    class CountingAdapter(HTTPAdapter):
        """Counts every token request as it is sent, time-outs included (a response hook never sees those)."""

        def send(self, request, *args, **kwargs):
            if request.url.endswith("/oauth/token"):
                token = parse_qs(request.body or "").get("refresh_token", [""])[0]
                attempts[owner_of_token.get(token, -1)] += 1
            try:
                response = super().send(request, *args, **kwargs)
            except requests.Timeout:
                outcomes["time-out"] += 1
                raise
            if request.url.endswith("/oauth/token"):
                outcomes[response.status_code] += 1
            return response

    # Bulk rotation (chunks, many exchanges in flight) sends through the asyncio transport: counted there too.
    send_async = aio.AsyncTransport.send

    async def counting_send(transport, request):
        is_token = request.url.endswith("/oauth/token")
        if is_token:
            attempts[owner_of_token.get((request.data or {}).get("refresh_token", ""), -1)] += 1
        try:
            answer = await send_async(transport, request)
        except SmartcarTimeout:
            outcomes["time-out"] += 1
            raise
        except SmartcarException as exc:
            if is_token:
                outcomes[exc.status_code] += 1
            raise
        if is_token:
            outcomes[answer.status_code] += 1
        return answer

    monkeypatch.setattr(aio.AsyncTransport, "send", counting_send)
    session = get_transport().session
    original = session.adapters["http://"]
    session.mount("http://", CountingAdapter(pool_maxsize=4))
    rounds = 0
    try:
        while (
            rounds < 4
            and SmartcarAccount.objects.filter(
                refresh_expires_at__lt=timezone.now() + timedelta(days=59)
            ).exists()
        ):
            rounds += 1
            rotate_expiring_tokens.delay()
    finally:
        session.mount("http://", original)

    stale = SmartcarAccount.objects.filter(refresh_expires_at__lt=timezone.now() + timedelta(days=59))
    assert not stale.exists(), f"{stale.count()} account(s) not rotated after {rounds} round(s)"
    assert Counter(SmartcarAccount.objects.values_list("status", flat=True)) == {Status.ACTIVE: SOAK_ACCOUNTS}
    # Each task try repeats its exchange at most MAX_EXCHANGE_ATTEMPTS times, inside Smartcar's reuse window.
    budget = rounds * (1 + settings.SMARTCAR.get("TASK_MAX_RETRIES", 5)) * MAX_EXCHANGE_ATTEMPTS
    assert max(attempts.values()) <= budget and -1 not in attempts
    assert RefreshToken.objects.filter(rotated_at__isnull=False).count() == SOAK_ACCOUNTS
    failed = sum(attempts.values()) - SOAK_ACCOUNTS
    assert outcomes["time-out"] and outcomes[429] and outcomes[500] and outcomes[502] and outcomes[504]
    with capsys.disabled():
        print(
            f"\nfault soak: {SOAK_ACCOUNTS} accounts, {sum(attempts.values())} token requests, {failed} failed "
            f"({', '.join(f'{count} x {kind}' for kind, count in sorted(outcomes.items(), key=str) if kind != 200)}), "
            f"{rounds} beat round(s), at most {max(attempts.values())} requests for one account, "
            "0 accounts lost, 0 pushed to reauth_required"
        )


def test_a_lost_token_response_is_recovered_within_the_grace_minute(smartcar, user, eager):
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=2))
    # Smartcar rotates the token and commits, then the answer is lost (the client sees a 504).
    faults.inject("lose_token_response", remaining=1)

    assert rotate_account_tokens.delay(account.pk).get() == "rotated"

    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert account.refresh_expires_at > timezone.now() + timedelta(days=59)
    # The stored token is the one Smartcar considers current: it refreshes again.
    assert rotate_account_tokens.delay(account.pk).get() == "skipped"  # not due any more
    from django_smartcar.services.tokens import rotate_tokens

    assert rotate_tokens(account, force=True)


def test_a_lost_response_recovered_too_late_means_reauth_with_its_signal(
    smartcar, user, record_signal, settings, one_minute_refresh_grace
):
    from django_smartcar import client
    from django_smartcar.services.rotation import rotate_account

    settings.SMARTCAR = {**settings.SMARTCAR, "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=1)}
    reauth = record_signal("reauth_required")
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=2))
    faults.inject("lose_token_response")  # every answer is lost, the immediate repeats' too
    with pytest.raises(client.GatewayTimeoutException):
        rotate_account(account.pk)
    account.refresh_from_db()
    assert account.status == Status.REFRESH_FAILING  # not broken yet: a retry within a minute would recover
    assert account.token_exchange_started_at is not None  # and whoever comes next knows to resume

    faults.clear()
    clock.advance(90)  # the retry comes after Smartcar's one-minute reuse window
    assert rotate_account(account.pk).outcome == "reauth_required"

    account.refresh_from_db()
    assert account.status == Status.REAUTH_REQUIRED
    assert [call["account"].pk for call in reauth.calls] == [account.pk]


RACE_SCRIPT = """
import json, sys, time
from pathlib import Path
import django
django.setup()
from django_smartcar.models import SmartcarAccount
from django_smartcar.services.tokens import get_access_token
account_pk, folder, name = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
account = SmartcarAccount.objects.get(pk=account_pk)  # read before the race: expired, so it must refresh
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():
    time.sleep(0.002)
enter = time.time()
token = get_access_token(account)
print(json.dumps({"token": token, "enter": enter, "exit": time.time()}))
"""
RACERS = 4


def test_concurrent_refreshes_in_separate_processes_cause_exactly_one(smartcar, user, tmp_path):
    """Four processes race for one expired access token (PostgreSQL in CI's second leg, SQLite in the first).

    Each process reads the expired account, says it is ready and waits; once all are ready they are released
    together, and the slow token endpoint keeps the first refresh (and so the lock) busy until every process
    has called ``get_access_token``: the test fails unless all four were inside at once.
    """
    (account,) = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=30))
    SmartcarAccount.objects.filter(pk=account.pk).update(
        access_expires_at=timezone.now() - timedelta(minutes=1)
    )
    faults.inject("latency", target=FaultTarget.TOKEN, latency_ms=RACE_LATENCY_MS)
    before = RefreshToken.objects.count()
    env = child_env(smartcar)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RACE_SCRIPT, str(account.pk), str(tmp_path), str(index)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(RACERS)
    ]
    try:
        wait_for(
            lambda: (
                len(list(tmp_path.glob("ready-*"))) == RACERS
                or any(process.poll() is not None for process in processes)
            ),
            "every racing process to be ready",
        )
        (tmp_path / "go").touch()
        results = [process.communicate(timeout=90) for process in processes]
    finally:
        stop(*processes)

    assert all(process.returncode == 0 for process in processes), [err[-2000:] for _out, err in results]
    answers = [json.loads(out) for out, _err in results]
    assert_all_inside_at_once([(answer["enter"], answer["exit"]) for answer in answers], RACERS)
    tokens = {answer["token"] for answer in answers}
    assert len(tokens) == 1
    assert RefreshToken.objects.count() == before + 1
    account.refresh_from_db()
    assert account.status == Status.ACTIVE and account.access_token == tokens.pop()


def test_a_webhook_and_a_poll_updating_one_vehicle_lose_nothing(account):
    """Two writers interleave on one vehicle: each group ends with its newest data, whoever wrote last.

    In each of 20 rounds the poll (older data) and the webhook (newer data, a second later) write at the same
    moment; after each round the vehicle must hold the newest value of every group. The test fails unless some
    writes of the two really ran at the same time (otherwise the row lock was never contended)."""
    vehicle = account.vehicles.first()
    start = timezone.now()
    rounds = 20
    errors: list[BaseException] = []
    lost: list[str] = []
    sections = {"poll": CriticalSections(), "webhook": CriticalSections()}

    def check_round() -> None:
        # Runs in one of the writers once both finished the round; ``step`` is the round just written.
        step = len(sections["poll"].spans) - 1
        if step < 0:
            return
        row = type(vehicle).objects.get(pk=vehicle.pk)
        if (row.odometer_km, row.latitude, row.is_locked) != (1000.5 + step, 1.0 * step, step % 2 == 0):
            lost.append(f"round {step}: {row.odometer_km}, {row.latitude}, {row.is_locked}")

    barrier = threading.Barrier(2, action=check_round, timeout=30)

    def writer(name: str, points: Callable[[int], list[DataPoint]]) -> None:
        try:
            for step in range(rounds):
                barrier.wait()
                with sections[name].inside():
                    apply_vehicle_data(vehicle, points(step))
            barrier.wait()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    def poll_points(step: int) -> list[DataPoint]:
        at = start + timedelta(seconds=2 * step)
        return [
            DataPoint("/odometer", {"distance": 1000.0 + step}, at),
            DataPoint("/location", {"latitude": 1.0 * step, "longitude": 2.0}, at),
        ]

    def webhook_points(step: int) -> list[DataPoint]:
        at = start + timedelta(seconds=2 * step + 1)
        return [
            DataPoint("/odometer", {"distance": 1000.5 + step}, at),
            DataPoint("/security", {"isLocked": step % 2 == 0}, at),
        ]

    threads = [
        threading.Thread(target=writer, args=("poll", poll_points)),
        threading.Thread(target=writer, args=("webhook", webhook_points)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == [] and not any(thread.is_alive() for thread in threads), errors
    overlaps = overlapping_pairs(sections["poll"].spans, sections["webhook"].spans)
    assert overlaps >= 1, "The poll's and the webhook's writes never ran at the same time"
    assert lost == []
    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 1019.5 and vehicle.odometer_age == start + timedelta(seconds=39)
    assert vehicle.latitude == 19.0 and vehicle.location_age == start + timedelta(seconds=38)
    assert vehicle.is_locked is False and vehicle.lock_age == start + timedelta(seconds=39)


def test_lock_files_stay_beside_a_sqlite_database():
    # The SQLite refresh lock must not litter the working directory.
    assert not Path("control").exists() and not list(Path(".").glob("*.smartcar-locks"))

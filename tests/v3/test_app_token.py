"""The site's application token against the live simulator's IAM: one token for every thread and process of the
site (counted by the simulator), stored encrypted, renewed once when Smartcar refuses it, failures recorded
without secrets."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from django_smartcar import client, crypto
from django_smartcar.client import v3
from django_smartcar.models import ApplicationToken, Vehicle
from django_smartcar.services import app_token
from django_smartcar.services.app_token import (
    DatabaseTokenStore,
    application_token,
    forget_application_tokens,
)
from django_smartcar.services.clients import get_origins, get_transport
from django_smartcar.services.vehicles import sync_vehicles
from django_smartcar.simulator.models import AppToken
from django_smartcar.simulator.traffic import reset as reset_counts
from tests.processes import child_env, start_python, start_worker, stop, wait_for

from .conftest import iam_requests, make_v3_account, simulator_counts

THREADS = 8
PROCESSES = 3
BARRIER_TIMEOUT = 30.0


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def forget_the_sites_token() -> None:
    """As if no process had asked yet: no stored token, no process copy, the simulator's counts at zero."""
    ApplicationToken.objects.all().delete()
    forget_application_tokens()
    reset_counts()


def run_in_threads(target, count: int = THREADS) -> list:
    """``target()`` in ``count`` threads released together; their results (an exception fails the test)."""
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)
    results: list = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


def test_threads_of_one_process_make_one_token_request(v3_smartcar):
    tokens = run_in_threads(lambda: application_token().get())

    assert len(set(tokens)) == 1
    assert iam_requests() == 1


def test_holders_that_share_only_the_database_make_one_token_request(v3_smartcar):
    """Each thread builds its own ``v3.ApplicationToken``, as each process of the site does: only the stored row
    and its process lock are shared."""

    def own_holder() -> str:
        holder = v3.ApplicationToken(
            v3_smartcar.api_client_id,
            v3_smartcar.api_client_secret,
            transport=get_transport(),
            store=DatabaseTokenStore(),
        )
        return holder.get()

    tokens = run_in_threads(own_holder)

    assert len(set(tokens)) == 1
    assert iam_requests() == 1
    assert ApplicationToken.objects.get().requests_made == 1


# A process of the site (a web or worker process) asking for the token through the service.
CHILD = (
    "import hashlib, django; django.setup(); "
    "from django_smartcar.services.app_token import application_token; "
    "print('TOKEN', hashlib.sha256(application_token().get().encode()).hexdigest(), flush=True)"
)


def test_several_processes_make_one_token_request(v3_smartcar, tmp_path):
    env = child_env(v3_smartcar)
    children = [start_python(f"process-{index}", ["-c", CHILD], env, tmp_path) for index in range(PROCESSES)]
    try:
        web = fingerprint(application_token().get())  # this process too, meanwhile
        for process, log in children:
            wait_for(lambda process=process: process.poll() is not None, "a process to get the token", [log])
    finally:
        stop(*(process for process, _log in children))
    printed = {
        line.split()[1]
        for _process, log in children
        for line in log.read_text().splitlines()
        if line.startswith("TOKEN ")
    }
    assert [process.returncode for process, _log in children] == [0] * PROCESSES
    assert printed == {web}
    assert iam_requests() == 1


def finished_chunks(logs: list[Path]) -> int:
    """How many ``refresh_vehicles`` tasks the workers' logs report as succeeded."""
    return sum(
        "django_smartcar.refresh_vehicles[" in line and "] succeeded in " in line
        for log in logs
        if log.exists()
        for line in log.read_text().splitlines()
    )


@pytest.mark.worker_processes
def test_two_worker_processes_refreshing_v3_vehicles_make_one_token_request(
    v3_smartcar, user, tmp_path, private_broker, settings
):
    # The fixed-interval fan-out (off by default), queued three times at once: both workers take bulk chunks.
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "REFRESH_ON_CONNECT": False,
        "VEHICLE_REFRESH_INTERVAL": timedelta(hours=1),
    }
    account = make_v3_account(v3_smartcar, user)
    vehicle_ids = list(account.vehicles.values_list("pk", flat=True))
    forget_the_sites_token()
    env = child_env(v3_smartcar, **private_broker)
    workers = [start_worker(env, tmp_path, name=f"worker-{index}", purge=True) for index in range(2)]
    try:
        from django_smartcar import tasks

        for _round in range(3):  # the beat's fan-out, a few times over: both workers take refreshes
            tasks.refresh_connected_vehicles()
        # A chunk skips a vehicle another chunk read after it was queued, so the number of reads varies from run
        # to run; what is fixed is that all three chunks finish and every vehicle gets read.
        wait_for(
            lambda: (
                finished_chunks([log for _worker, log in workers]) == 3
                and Vehicle.objects.filter(pk__in=vehicle_ids, odometer_km__isnull=False).count()
                == len(vehicle_ids)
            ),
            "the workers to finish three chunks and read every vehicle's signals",
            [log for _worker, log in workers],
        )
    finally:
        stop(*(worker for worker, _log in workers))
    assert simulator_counts("GET") >= len(vehicle_ids)
    assert iam_requests() == 1
    assert ApplicationToken.objects.get().requests_made == 1


def test_the_token_is_stored_encrypted_and_reused_by_a_new_process(v3_smartcar):
    token = application_token().get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_encrypted FROM django_smartcar_applicationtoken")
        (stored,) = cursor.fetchone()
    assert token not in stored and crypto.decrypt(stored) == token
    row = ApplicationToken.objects.get()
    assert token not in repr(row) and token not in str(row)
    assert row.key == app_token.token_key(v3_smartcar.api_client_id, get_origins().iam)
    assert v3_smartcar.api_client_id not in row.key

    forget_application_tokens()  # a process started later

    assert application_token().get() == token
    assert iam_requests() == 1


def test_a_token_about_to_expire_is_renewed_once(v3_smartcar):
    first = application_token().get()
    ApplicationToken.objects.update(expires_at=timezone.now() + timedelta(minutes=1))  # within RENEW_BEFORE
    forget_application_tokens()

    renewed = run_in_threads(lambda: application_token().get())

    assert set(renewed) != {first} and len(set(renewed)) == 1
    assert iam_requests() == 2 and ApplicationToken.objects.get().requests_made == 2


def test_a_token_smartcar_refuses_is_renewed_once_and_the_call_goes_through(v3_smartcar, user):
    account = make_v3_account(v3_smartcar, user)
    refused = application_token().get()
    AppToken.objects.all().delete()  # Smartcar no longer accepts it (401)

    result = sync_vehicles(account)

    assert len(result.updated) == account.vehicles.count()
    assert iam_requests() == 2
    row = ApplicationToken.objects.get()
    assert row.token != refused and row.requests_made == 2
    # The holder did not forget the new token: the next call asks IAM nothing.
    sync_vehicles(account)
    assert iam_requests() == 2


def test_a_refused_token_request_is_recorded_without_secrets(v3_smartcar, settings, caplog):
    secret = "wrong-secret-value"
    settings.SMARTCAR = {**settings.SMARTCAR, "API_CLIENT_SECRET": secret}

    with pytest.raises(client.SmartcarException) as caught:
        application_token().get()

    assert caught.value.status_code == 401
    row = ApplicationToken.objects.get()
    assert row.requests_made == 1 and row.token_encrypted == ""
    assert "invalid_client" in row.last_error and "HTTP 401" in row.last_error
    assert secret not in row.last_error and secret not in caplog.text
    assert iam_requests() == 1

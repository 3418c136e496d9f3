"""No web request waits on a car: the admin and the API queue refreshes and commands and answer at once.

Smartcar (the live simulator) is made slow, 5 s for every vehicle call; each request below returns having sent
it nothing at all (the requests are counted, not timed), shows the work pending, and shows the outcome once
the queued task has run (here in this process, as an eager worker would run it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import VehicleCommand, VehicleRefresh
from django_smartcar.services import refreshes
from django_smartcar.simulator import faults
from tests.api.conftest import API
from tests.api.test_faults import dead_broker  # noqa: F401

SLOW_SMARTCAR_MS = 5_000
VEHICLES_URL = "/admin/django_smartcar/vehicle/"


@pytest.fixture
def slow_smartcar(account) -> Iterator[None]:
    """Every vehicle call to the simulator waits 5 s first (a car that takes its time, as real ones do)."""
    faults.inject("latency", latency_ms=SLOW_SMARTCAR_MS)
    yield
    faults.clear()


@pytest.fixture
def operator(django_user_model, client):
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="django_smartcar",
            codename__in=["view_vehicle", "change_vehicle", "send_vehicle_commands"],
        )
    )
    client.force_login(user)
    return client


# --- REST API -------------------------------------------------------------------------------------------------


def test_an_api_lock_answers_202_at_once_and_its_command_goes_pending_then_succeeded(
    account, browser, slow_smartcar, worker, smartcar_requests
):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/")

    assert response.status_code == 202
    command = response.json()
    assert command["status"] == "pending" and command["action"] == "lock"
    assert response["Location"] == command["url"] and command["url"].endswith(f"/commands/{command['id']}/")
    assert smartcar_requests == []  # nothing was sent to Smartcar by the request
    assert browser.get(command["url"]).json()["status"] == "pending"
    assert browser.get(f"{API}/vehicles/{vehicle.pk}/").json()["last_command"]["status"] == "pending"

    assert worker() == 1

    done = browser.get(command["url"]).json()
    assert done["status"] == "succeeded" and done["completed_at"] and done["error"] is None
    assert smartcar_requests  # the worker, not the request, talked to Smartcar


def test_an_api_refresh_answers_202_with_a_refresh_to_poll_from_pending_to_succeeded(
    account, browser, slow_smartcar, worker, smartcar_requests
):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/")

    assert response.status_code == 202
    refresh = response.json()
    assert refresh["status"] == "pending" and refresh["vehicle"] == vehicle.pk
    assert response["Location"] == refresh["url"]
    assert refresh["url"].endswith(f"/api/smartcar/refreshes/{refresh['id']}/")
    assert smartcar_requests == []
    assert browser.get(refresh["url"]).json()["status"] == "pending"
    assert browser.get(f"{API}/vehicles/{vehicle.pk}/").json()["last_refresh"]["id"] == refresh["id"]
    assert [row["id"] for row in browser.get(f"{API}/refreshes/?vehicle={vehicle.pk}").json()["results"]] == [
        refresh["id"]
    ]

    worker()

    done = browser.get(refresh["url"]).json()
    assert done["status"] == "succeeded" and done["completed_at"] and done["error"] is None
    assert "odometer" in done["updated"]
    assert browser.get(f"{API}/vehicles/{vehicle.pk}/").json()["odometer"]["distance_km"] is not None


def test_a_refresh_the_car_cannot_answer_is_recorded_failed_with_the_reason(
    account, browser, smartcar, worker
):
    vehicle = account.vehicles.first()
    refresh = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/").json()
    worker_run = worker

    faults.inject("asleep")  # every data point of the batch answers VEHICLE_STATE / ASLEEP
    task, args = tasks.refresh_vehicle_data, (vehicle.pk, refresh["id"])
    task.apply(args=args)
    faults.clear()

    failed = browser.get(refresh["url"]).json()
    assert failed["status"] == "failed" and failed["updated"] == []
    assert failed["error"]["type"] == "VEHICLE_STATE" and "vehicle asleep" in failed["error"]["detail"]
    assert {error["reason"] for error in failed["errors"]} == {"vehicle asleep, retried later"}
    # The queued task, delivered again, sends nothing more: the row already holds its outcome.
    assert worker_run() == 1
    assert browser.get(refresh["url"]).json()["status"] == "failed"


def test_a_refresh_whose_whole_request_fails_is_recorded_failed_and_not_left_pending(
    account, browser, smartcar, worker
):
    vehicle = account.vehicles.first()
    refresh = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/").json()
    faults.inject("server_errors", statuses=[500])  # the batch itself fails: a 500 is not tried again

    worker(lift_faults=False)
    faults.clear()

    failed = browser.get(refresh["url"]).json()
    assert failed["status"] == "failed" and failed["completed_at"]
    assert failed["error"]["type"] == "SERVER"
    assert browser.get(f"{API}/vehicles/{vehicle.pk}/").json()["last_refresh"]["status"] == "failed"


def test_the_synchronous_api_stays_behind_an_explicit_opt_in(account, browser, worker, smartcar_requests):
    vehicle = account.vehicles.first()

    assert browser.post(f"{API}/vehicles/{vehicle.pk}/lock/").status_code == 202  # by default: queued
    assert smartcar_requests == []

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert smartcar_requests  # it waited for Smartcar, as asked
    assert worker() == 1  # only the first one was queued


def test_a_refresh_with_the_broker_down_is_a_503_and_a_failed_row_nothing_pending(
    account,
    browser,
    dead_broker,  # noqa: F811
):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/")

    assert response.status_code == 503
    body = response.json()
    assert body["type"] == "NOT_QUEUED" and "could not be queued" in body["detail"]
    refresh = VehicleRefresh.objects.get()
    assert refresh.status == VehicleRefresh.Status.FAILED and refresh.error_type == "NOT_QUEUED"
    assert body["refresh"]["id"] == refresh.pk and body["refresh"]["status"] == "failed"


def test_another_users_refresh_is_not_found(account, browser, other_browser, worker):
    vehicle = account.vehicles.first()
    refresh = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/").json()

    assert other_browser.get(refresh["url"]).status_code == 404
    assert other_browser.get(f"{API}/refreshes/").json()["results"] == []


# --- Admin ----------------------------------------------------------------------------------------------------


def run_action(admin_client, action, vehicles):
    data = {"action": action, "_selected_action": [vehicle.pk for vehicle in vehicles], "confirm": "yes"}
    return admin_client.post(VEHICLES_URL, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_admin_lock_and_refresh_are_queued_shown_pending_then_their_outcome(
    account, operator, slow_smartcar, worker, smartcar_requests
):
    vehicles = list(account.vehicles.order_by("pk"))

    locked = run_action(operator, "lock", vehicles)
    refreshed = run_action(operator, "refresh_data", vehicles[:1])

    assert smartcar_requests == []
    assert sum("Lock queued" in text for text in messages_of(locked)) == len(vehicles)
    assert any("Refresh queued" in text for text in messages_of(refreshed))
    page = operator.get(VEHICLES_URL).content.decode()
    assert page.count("Lock: pending") == len(vehicles)
    assert "Last refresh" in page and "pending (requested" in page
    assert VehicleCommand.objects.filter(status="pending").count() == len(vehicles)

    assert worker() == len(vehicles) + 1

    page = operator.get(VEHICLES_URL).content.decode()
    assert page.count("Lock: succeeded") == len(vehicles) and "Lock: pending" not in page
    assert "refreshed " in page and "pending (requested" not in page


def test_an_admin_action_with_the_broker_down_says_so_and_loses_nothing(
    account,
    operator,
    dead_broker,  # noqa: F811
):
    vehicle = account.vehicles.first()

    texts = messages_of(run_action(operator, "lock", [vehicle]))

    assert any("could not be queued" in text for text in texts)
    command = VehicleCommand.objects.get()
    assert command.status == VehicleCommand.Status.FAILED and command.error_type == "NOT_QUEUED"


# --- Abandoned ------------------------------------------------------------------------------------------------


def test_a_refresh_no_worker_completed_is_marked_failed_by_the_sweep(account, worker):
    vehicle = account.vehicles.first()
    refresh = refreshes.queue_refresh(vehicle)
    VehicleRefresh.objects.filter(pk=refresh.pk).update(requested_at=timezone.now() - timedelta(hours=1))

    assert tasks.fail_abandoned_commands() == 1

    refresh.refresh_from_db()
    assert refresh.status == VehicleRefresh.Status.FAILED and refresh.error_type == "ABANDONED"

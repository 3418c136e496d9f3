"""Commands and refreshes over the API, against the live simulator: synchronous, queued, and every failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleCommand
from django_smartcar.simulator import faults, grants
from django_smartcar.simulator.models import SimulatedVehicle
from tests.api.conftest import API

Status = VehicleCommand.Status


def simulated(vehicle: Vehicle) -> SimulatedVehicle:
    return SimulatedVehicle.objects.get(pk=vehicle.smartcar_id)


def test_unlock_then_lock_answer_with_smartcars_result(account, user, browser):
    vehicle = account.vehicles.first()

    unlocked = browser.post(f"{API}/vehicles/{vehicle.pk}/unlock/?async=0")

    assert unlocked.status_code == 200
    body = unlocked.json()
    assert body["action"] == "unlock" and body["status"] == "succeeded" and body["smartcar_request_id"]
    assert body["error"] is None
    assert simulated(vehicle).is_locked is False
    assert VehicleCommand.objects.get(pk=body["id"]).requested_by == user

    locked = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0").json()
    assert locked["status"] == "succeeded"
    assert simulated(vehicle).is_locked is True
    # The vehicle shows the command apart from the data read from the car (none was read here).
    shown = browser.get(f"{API}/vehicles/{vehicle.pk}/").json()
    assert shown["last_command"] == locked and shown["security"] is None


def test_async_answers_202_with_the_command_whose_status_the_worker_completes(account, browser, queued):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/unlock/?async=1")

    assert response.status_code == 202
    queued_command = response.json()
    assert queued_command["status"] == "pending" and response["Location"] == queued_command["url"]
    assert queued == [
        (
            "django_smartcar.send_vehicle_command",
            (vehicle.pk, "unlock", account.owner_id, queued_command["id"]),
        )
    ]
    assert simulated(vehicle).is_locked is True  # nothing was sent yet
    assert browser.get(queued_command["url"]).json()["status"] == "pending"

    tasks.send_vehicle_command(*queued[0][1])  # what the worker does with the queued message

    assert browser.get(queued_command["url"]).json()["status"] == "succeeded"
    assert simulated(vehicle).is_locked is False
    assert VehicleCommand.objects.filter(vehicle=vehicle).count() == 1


def test_async_refresh_is_queued(account, browser, queued):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=true")

    assert response.status_code == 202
    refresh = response.json()
    assert refresh["vehicle"] == vehicle.pk and refresh["status"] == "pending"
    assert queued == [("django_smartcar.refresh_vehicle_data", (vehicle.pk, refresh["id"]))]


def test_async_refresh_points_at_the_refresh_to_get_later(account, browser, queued):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=1")

    assert response.status_code == 202
    assert response["Location"] == f"http://testserver{API}/refreshes/{response.json()['id']}/"
    assert browser.get(response["Location"]).json()["vehicle"] == vehicle.pk


def test_an_invalid_async_flag_is_a_400(account, browser, queued):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=soon")

    assert response.status_code == 400 and "async" in response.json()
    assert queued == [] and not VehicleCommand.objects.exists()


def test_refresh_reads_the_car_and_answers_with_the_stored_data(account, browser, smartcar_requests):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")

    assert response.status_code == 200
    body = response.json()
    assert "odometer" in body["updated"] and "location" in body["updated"]
    vehicle.refresh_from_db()
    assert body["vehicle"]["odometer"]["distance_km"] == vehicle.odometer_km is not None
    assert [path for method, path in smartcar_requests if method == "POST"] == [
        f"/v2.0/vehicles/{vehicle.smartcar_id}/batch"
    ]


def test_charging_starts_and_stops_where_permitted(charging_scope, account, browser):
    electric = next(v for v in account.vehicles.all() if simulated(v).is_electric)
    SimulatedVehicle.objects.filter(pk=electric.smartcar_id).update(is_plugged_in=True, is_charging=False)

    started = browser.post(f"{API}/vehicles/{electric.pk}/start-charge/?async=0")
    assert started.status_code == 200, started.content
    assert simulated(electric).is_charging is True

    stopped = browser.post(f"{API}/vehicles/{electric.pk}/stop-charge/?async=0")
    assert stopped.status_code == 200 and stopped.json()["action"] == "stop_charge"
    assert simulated(electric).is_charging is False


def test_a_car_that_cannot_charge_is_a_409(charging_scope, account, browser):
    fuel = next(v for v in account.vehicles.all() if not simulated(v).is_electric)

    response = browser.post(f"{API}/vehicles/{fuel.pk}/start-charge/?async=0")

    assert response.status_code == 409
    assert (response.json()["type"], response.json()["code"]) == ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")


def test_a_permission_smartcar_refuses_is_a_403_with_the_reconnect_url(account, browser):
    vehicle = account.vehicles.first()
    # The row believes in a permission the owner never granted at Smartcar.
    Vehicle.objects.filter(pk=vehicle.pk).update(permissions=[*vehicle.permissions, "control_charge"])

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/start-charge/?async=0")

    assert response.status_code == 403
    assert response.json()["type"] == "PERMISSION" and response.json()["reconnect_url"]


def test_a_vehicle_smartcar_no_longer_knows_means_reconnect(account, browser, smartcar):
    vehicle = account.vehicles.first()
    grants.disconnect(smartcar.application, [simulated(vehicle)])

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/unlock/?async=0")

    # Smartcar answers a vehicle id its token no longer reaches with a 400 VALIDATION that has no code.
    assert response.status_code == 409
    assert response.json()["type"] == "VALIDATION" and response.json()["code"] is None
    assert response.json()["reconnect_url"]


def test_a_missing_permission_is_a_403_naming_it(account, browser, queued, smartcar_requests):
    vehicle = account.vehicles.first()  # the app's default scope has no control_charge

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/start-charge/?async=0")

    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "PERMISSION" and body["code"] == "control_charge"
    assert "control_charge" in body["detail"] and body["reconnect_url"].endswith("/smartcar/connect/")
    assert body["command"]["status"] == "failed"
    assert smartcar_requests == []

    queued_response = browser.post(f"{API}/vehicles/{vehicle.pk}/start-charge/?async=1")
    assert queued_response.status_code == 403 and queued_response.json()["code"] == "control_charge"
    assert queued == []


def test_a_sleeping_car_is_a_409(account, browser):
    vehicle = account.vehicles.first()
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    locked = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")
    refreshed = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")

    assert locked.status_code == 409
    assert (locked.json()["type"], locked.json()["code"]) == ("VEHICLE_STATE", "ASLEEP")
    assert locked.json()["command"]["error"]["type"] == "VEHICLE_STATE"
    assert refreshed.status_code == 409 and refreshed.json()["code"] == "ASLEEP"


def test_smartcars_rate_limit_is_a_429_with_retry_after(account, browser):
    vehicle = account.vehicles.first()
    # Longer than the client would wait for itself, so the API answers at once.
    faults.inject("rate_limit", vehicle=vehicle.smartcar_id, retry_after=120)

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")

    assert response.status_code == 429
    assert response["Retry-After"] == "120" and response.json()["retry_after"] == 120
    assert (response.json()["type"], response.json()["code"]) == ("RATE_LIMIT", "VEHICLE")

    command = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")
    assert command.status_code == 429 and command.json()["type"] == "RATE_LIMIT"


@pytest.mark.parametrize("status", [500, 502])
def test_smartcar_server_failures_are_a_502(account, browser, status):
    vehicle = account.vehicles.first()
    faults.inject("server_errors", statuses=[status])

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert response.status_code == 502
    assert response.json()["type"] == {500: "SERVER", 502: "UPSTREAM"}[status]
    assert response.json()["request_id"]


def test_a_gateway_page_instead_of_json_is_a_502(account, browser):
    vehicle = account.vehicles.first()
    faults.inject("server_errors", statuses=[503])

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/unlock/?async=0")

    assert response.status_code == 502 and response.json()["type"] == "SMARTCAR"


def test_an_account_needing_reconnect_is_a_409_with_the_reconnect_url(account, browser, smartcar_requests):
    SmartcarAccount.objects.filter(pk=account.pk).update(status=SmartcarAccount.Status.REAUTH_REQUIRED)
    vehicle = account.vehicles.first()

    for response in (
        browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0"),
        browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0"),
    ):
        assert response.status_code == 409
        body = response.json()
        assert (body["type"], body["code"]) == ("REAUTHENTICATE", "reauth_required")
        assert body["reconnect_url"] == "http://testserver/smartcar/connect/"
    assert smartcar_requests == []


def test_a_token_smartcar_refuses_means_reconnect(account, browser):
    vehicle = account.vehicles.first()
    SmartcarAccount.objects.filter(pk=account.pk).update(access_token_encrypted=account_with_token("bogus"))

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert response.status_code == 409
    assert response.json()["type"] == "AUTHENTICATION" and response.json()["reconnect_url"]


def account_with_token(token: str) -> str:
    holder = SmartcarAccount()
    holder.access_token = token
    return holder.access_token_encrypted


def test_commands_refresh_tokens_under_atomic_requests(account, browser, monkeypatch):
    """Token refreshes commit on their own: the API's views must not run inside a request transaction."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    SmartcarAccount.objects.filter(pk=account.pk).update(
        access_expires_at=timezone.now() - timedelta(minutes=1)
    )
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/unlock/?async=0")

    assert response.status_code == 200, response.content
    assert SmartcarAccount.objects.get(pk=account.pk).access_expires_at > timezone.now()


def test_commands_are_throttled_per_user(account, browser, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"smartcar_commands": "2/hour"},
    }
    vehicle = account.vehicles.first()

    answers = [browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert VehicleCommand.objects.count() == 2  # the throttled one never reached the service
    assert browser.get(f"{API}/vehicles/{vehicle.pk}/").status_code == 200  # reads are not limited


def test_commands_are_limited_by_default(account, browser):
    vehicle = account.vehicles.first()

    codes = [browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=1").status_code for _ in range(11)]

    assert codes == [202] * 10 + [429]


def test_session_clients_need_the_csrf_token(account, user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    vehicle = account.vehicles.first()

    response = strict.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not VehicleCommand.objects.exists()


def test_commands_and_their_status_are_the_owners_only(
    account, other_account, browser, other_browser, queued
):
    mine = account.vehicles.first()
    command = browser.post(f"{API}/vehicles/{mine.pk}/lock/?async=1").json()

    assert other_browser.post(f"{API}/vehicles/{mine.pk}/lock/?async=0").status_code == 404
    assert other_browser.post(f"{API}/vehicles/{mine.pk}/refresh/?async=0").status_code == 404
    assert other_browser.get(f"{API}/commands/{command['id']}/").status_code == 404
    assert other_browser.get(f"{API}/commands/").json()["count"] == 0
    assert [c["id"] for c in browser.get(f"{API}/commands/").json()["results"]] == [command["id"]]
    assert len(queued) == 1


def test_the_command_list_filters_by_vehicle(account, browser, queued):
    first, second = account.vehicles.order_by("pk")[:2]
    browser.post(f"{API}/vehicles/{first.pk}/lock/?async=1")
    newest = browser.post(f"{API}/vehicles/{second.pk}/unlock/?async=1").json()

    listed = browser.get(f"{API}/commands/?vehicle={second.pk}").json()["results"]

    assert [c["id"] for c in listed] == [newest["id"]]
    assert browser.get(f"{API}/commands/?vehicle=x").status_code == 400


def test_tokens_no_key_can_read_are_a_503_not_a_500(account, browser, settings):
    account.refresh_from_db()
    access_token = account.access_token
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert response.status_code == 503 and "unavailable" in response.json()["detail"]
    assert access_token.encode() not in response.content

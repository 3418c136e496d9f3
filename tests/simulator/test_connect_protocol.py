"""Connect as Smartcar answers it (smartcar-v3.md S7.10-7.12): required and optional permissions, the full
permission list, the error redirects and re-authentication, over HTTP against the mounted simulator."""

from __future__ import annotations

import pytest
import requests

from django_smartcar.client import Vehicle, get_vehicles
from django_smartcar.simulator.models import Grant
from django_smartcar.simulator.seeding import create_user, create_vehicle
from django_smartcar.simulator.testing import ConnectFlowError, complete_connect

from .conftest import query_of

NEW_PERMISSIONS = [
    "read_alerts",
    "read_charge_locations",
    "read_charge_records",
    "read_charge_events",
    "read_climate",
    "read_compass",
    "read_diagnostics",
    "read_extended_vehicle_info",
    "read_service_history",
    "read_speedometer",
    "read_thermometer",
    "read_user_profile",
    "control_climate",
    "control_pin",
    "control_trunk",
]


def grant_page(simulator, url: str, email: str = "driver@example.com") -> str:
    sign_in = requests.get(url, timeout=10)
    flow = sign_in.text.split('name="flow" value="')[1].split('"')[0]
    return requests.post(
        f"{simulator.base_url}/oauth/authorize/sign-in", data={"flow": flow, "email": email}, timeout=10
    ).text


def test_every_documented_permission_can_be_asked_for(simulator, auth_client):
    page = grant_page(simulator, auth_client.get_auth_url(NEW_PERMISSIONS, make="TESLA"))

    for name in NEW_PERMISSIONS:
        assert f'data-permission="{name}"' in page


def test_required_permissions_cannot_be_unticked_and_optional_ones_can(simulator, auth_client, transport):
    url = auth_client.get_auth_url(
        ["required:read_odometer", "read_location", "read_vin", "required:read_vehicle_info"], make="TESLA"
    )
    page = grant_page(simulator, url)
    assert 'data-permission="read_odometer" data-required' in page
    assert 'name="permission" value="read_odometer"' not in page
    assert 'name="permission" value="read_location"' in page

    with pytest.raises(ConnectFlowError, match="read_odometer"):
        complete_connect(url, untick=["read_odometer"])
    final_url = complete_connect(url, untick=["read_location"])

    access = auth_client.exchange_code(query_of(final_url)["code"])
    vehicle_id = get_vehicles(access.access_token, transport=transport).vehicles[0]
    granted = Vehicle(vehicle_id, access.access_token, transport=transport).permissions()
    assert sorted(granted) == ["read_odometer", "read_vehicle_info", "read_vin"]


def test_a_form_that_leaves_out_a_required_permission_still_grants_it(simulator, auth_client):
    url = auth_client.get_auth_url(["required:read_odometer", "read_vin"], make="TESLA")
    page = grant_page(simulator, url)
    flow = page.split('name="flow" value="')[1].split('"')[0]
    vehicle_id = page.split('name="vehicle" value="')[1].split('"')[0]

    response = requests.post(
        f"{simulator.base_url}/oauth/authorize/decision",
        data={"flow": flow, "choose_permissions": "1", "vehicle": vehicle_id, "decision": "approve"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    assert Grant.objects.get().scope == ["read_odometer"]


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("smartcar@invalid-subscription.com", "invalid_subscription"),
        ("smartcar@no-vehicles.com", "no_vehicles"),
        ("smartcar@configuration-error.com", "configuration_error"),
        ("smartcar@server-error.com", "server_error"),
    ],
)
def test_test_accounts_end_connect_with_their_error(simulator, auth_client, email, error):
    final_url = complete_connect(auth_client.get_auth_url(state="st-1"), email=email, make="TESLA")

    query = query_of(final_url)
    assert final_url.startswith(simulator.redirect_uri + "?")
    assert query["error"] == error and query["state"] == "st-1" and query["error_description"]
    assert "code" not in query and not Grant.objects.exists()


def test_an_incompatible_vehicle_is_reported_with_vin_make_model_and_year(simulator, auth_client):
    final_url = complete_connect(
        auth_client.get_auth_url(state="st-2"), email="smartcar@vehicle-incompatible.com", make="TESLA"
    )

    query = query_of(final_url)
    assert query["error"] == "vehicle_incompatible" and query["state"] == "st-2"
    assert query["vin"] == "0SCAUDI012FE3B132"
    assert query["make"] and query["model"] and query["year"].isdigit()


def test_an_owner_whose_car_is_flagged_incompatible_gets_vehicle_incompatible(simulator, auth_client):
    car = create_vehicle(create_user("old.car@example.com"), vin="0SCAUDI012FE3B132")

    query = query_of(complete_connect(auth_client.get_auth_url(), email="old.car@example.com", make=car.make))

    assert query["error"] == "vehicle_incompatible" and query["vin"] == car.vin
    assert not Grant.objects.exists()


def test_a_test_mode_vin_outside_test_mode_is_a_configuration_error(simulator, auth_client):
    response = requests.get(
        auth_client.get_auth_url(single_select_vin="0SCAUDI037A5ADB1C", state="st-3"),
        allow_redirects=False,
        timeout=10,
    )

    query = query_of(response.headers["Location"])
    assert query["error"] == "configuration_error" and query["status_code"] == "400"
    assert "test mode VIN" in query["error_message"] and query["state"] == "st-3"


def reauth_url(simulator, vehicle_id: str, **extra: str) -> str:
    params = {"response_type": "vehicle_id", "client_id": simulator.client_id, "vehicle_id": vehicle_id}
    params.update(extra)
    return requests.Request("GET", f"{simulator.base_url}/oauth/reauthenticate", params=params).prepare().url


def test_reauthentication_redirects_back_with_the_vehicle_id_and_state(simulator, auth_client):
    complete_connect(auth_client.get_auth_url())
    vehicle = simulator.vehicles[0]

    # redirect_uri left out: the application's registered default [rtc].
    final_url = complete_connect(reauth_url(simulator, vehicle.id, state="again-1"))

    assert final_url.startswith(simulator.redirect_uri + "?")
    assert query_of(final_url) == {"vehicle_id": vehicle.id, "state": "again-1"}


def test_reauthentication_needs_the_owner_and_a_connected_vehicle(simulator, auth_client):
    complete_connect(auth_client.get_auth_url())
    connected = reauth_url(simulator, simulator.vehicles[0].id)
    stranger = create_vehicle(create_user("stranger@example.com"), make="NISSAN")

    with pytest.raises(ConnectFlowError, match="owner"):
        complete_connect(connected, email="stranger@example.com")
    with pytest.raises(ConnectFlowError, match="not connected"):
        complete_connect(reauth_url(simulator, stranger.id), email="stranger@example.com")
    with pytest.raises(ConnectFlowError, match="response_type"):
        complete_connect(connected.replace("response_type=vehicle_id", "response_type=code"))

"""Connect: the consent pages driven by plain HTTP form posts, and the requests they must refuse."""

from __future__ import annotations

import pytest
import requests

from django_smartcar.simulator.models import AuthorizationCode, Connection, Grant, SimulatedVehicle
from django_smartcar.simulator.seeding import create_user, create_vehicle
from django_smartcar.simulator.testing import ConnectFlowError, complete_connect

from .conftest import query_of


def test_approval_redirects_with_code_and_state_for_the_chosen_vehicles(simulator, auth_client):
    chosen = simulator.vehicles[1]
    final_url = complete_connect(auth_client.get_auth_url(state="csrf-42"), vehicle_ids=[chosen.id])

    assert final_url.startswith(simulator.redirect_uri + "?")
    query = query_of(final_url)
    assert query["state"] == "csrf-42" and query["code"]
    grant = Grant.objects.get()
    assert list(grant.vehicles.all()) == [chosen]
    assert Connection.objects.filter(application=simulator.application, vehicle=chosen).exists()


def test_deny_redirects_with_access_denied_and_creates_nothing(simulator, auth_client):
    final_url = complete_connect(auth_client.get_auth_url(state="xyz"), approve=False)

    query = query_of(final_url)
    assert query["error"] == "access_denied" and query["state"] == "xyz" and query["error_description"]
    assert "code" not in query
    assert not Grant.objects.exists() and not AuthorizationCode.objects.exists()


def test_brand_picker_lists_makes_and_any_brand_shares_every_vehicle(simulator, auth_client):
    page = requests.get(auth_client.get_auth_url(), timeout=10)
    assert 'data-step="brand"' in page.text and 'value="TESLA"' in page.text

    complete_connect(auth_client.get_auth_url())

    assert set(Grant.objects.get().vehicles.all()) == set(simulator.vehicles)


def test_choosing_a_brand_offers_only_that_brands_vehicles(simulator, auth_client):
    tesla = next(vehicle for vehicle in simulator.vehicles if vehicle.make == "TESLA")

    complete_connect(auth_client.get_auth_url(), make="TESLA")

    assert list(Grant.objects.get().vehicles.all()) == [tesla]


def test_make_in_the_url_skips_the_brand_picker(simulator, auth_client):
    page = requests.get(auth_client.get_auth_url(make="JEEP"), timeout=10)
    assert 'data-step="sign_in"' in page.text

    complete_connect(auth_client.get_auth_url(make="JEEP"))

    assert [vehicle.make for vehicle in Grant.objects.get().vehicles.all()] == ["JEEP"]


def test_any_email_signs_in_and_gets_a_vehicle_of_the_chosen_make(simulator, auth_client):
    complete_connect(auth_client.get_auth_url(make="NISSAN"), email="new.owner@example.com")

    vehicle = Grant.objects.get().vehicles.get()
    assert vehicle.make == "NISSAN" and vehicle.user.email == "new.owner@example.com"


def test_single_select_offers_radio_buttons_and_refuses_two_vehicles(simulator, auth_client):
    url = auth_client.get_auth_url(single_select=True)
    both = [simulator.vehicles[0].id, simulator.vehicles[1].id]

    with pytest.raises(ConnectFlowError, match="exactly one vehicle"):
        complete_connect(url, vehicle_ids=both)
    complete_connect(url, vehicle_ids=[both[1]])

    assert [vehicle.id for vehicle in Grant.objects.get().vehicles.all()] == [both[1]]


def test_single_select_vin_offers_only_that_vehicle(simulator, auth_client):
    wanted = simulator.vehicles[2]

    complete_connect(auth_client.get_auth_url(single_select_vin=wanted.vin, make="TESLA"))

    assert list(Grant.objects.get().vehicles.all()) == [wanted]


def test_single_select_vin_of_someone_elses_car_is_refused(simulator, auth_client):
    url = auth_client.get_auth_url(single_select_vin=simulator.vehicles[0].vin)

    with pytest.raises(ConnectFlowError, match="no vehicle with VIN"):
        complete_connect(url, email="somebody.else@example.com")


def test_an_unknown_vin_becomes_the_signed_in_owners_car(simulator, auth_client):
    complete_connect(
        auth_client.get_auth_url(single_select_vin="5YJ3E1EA7KF000001"), email="fresh@example.com"
    )

    vehicle = SimulatedVehicle.objects.get(vin="5YJ3E1EA7KF000001")
    assert vehicle.user.email == "fresh@example.com" and vehicle.make == "TESLA"


def test_the_grant_page_lists_the_requested_permissions(simulator, auth_client):
    url = auth_client.get_auth_url(["read_odometer", "control_security"], make="TESLA")
    sign_in_page = requests.get(url, timeout=10)
    flow = sign_in_page.text.split('name="flow" value="')[1].split('"')[0]

    grant_page = requests.post(
        f"{simulator.base_url}/oauth/authorize/sign-in",
        data={"flow": flow, "email": "a@example.com"},
        timeout=10,
    )

    assert 'data-permission="read_odometer"' in grant_page.text
    assert 'data-permission="control_security"' in grant_page.text
    assert 'data-permission="read_location"' not in grant_page.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "nobody"}, "Unknown client_id"),
        ({"redirect_uri": "https://evil.example.com/cb"}, "not registered"),
        ({"scope": "read_odometer read_thoughts"}, "read_thoughts"),
        ({"response_type": "token"}, "response_type"),
        ({"mode": "production"}, "mode"),
    ],
)
def test_bad_authorize_requests_show_an_error_page_and_never_redirect(
    simulator, auth_client, change, message
):
    params = {**query_of(auth_client.get_auth_url(state="s")), **change}

    response = requests.get(
        f"{simulator.base_url}/oauth/authorize", params=params, allow_redirects=False, timeout=10
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert message in response.text


def test_a_tampered_flow_is_refused(simulator, auth_client):
    page = requests.get(auth_client.get_auth_url(make="TESLA"), timeout=10)
    flow = page.text.split('name="flow" value="')[1].split('"')[0]

    response = requests.post(
        f"{simulator.base_url}/oauth/authorize/sign-in",
        data={"flow": flow[:-3] + "abc", "email": "a@example.com"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 400 and "invalid or has expired" in response.text


def test_an_invalid_email_is_asked_again(simulator, auth_client):
    with pytest.raises(ConnectFlowError, match="valid email"):
        complete_connect(auth_client.get_auth_url(make="TESLA"), email="not-an-email")


def test_approving_with_no_vehicle_selected_is_refused(simulator, auth_client):
    with pytest.raises(ConnectFlowError, match="at least one vehicle"):
        complete_connect(auth_client.get_auth_url(), vehicle_ids=[])


def test_vehicles_of_another_owner_cannot_be_slipped_in(simulator, auth_client):
    stranger = create_vehicle(create_user("other@example.com"), make="NISSAN")

    with pytest.raises(ConnectFlowError, match="only vehicles listed"):
        complete_connect(auth_client.get_auth_url(), vehicle_ids=[stranger.id])

"""The simulator answers as Smartcar does (smartcar-v3.md section 7): error statuses and bodies, token error
texts and the grace window, batch rejection, wire formats and the v2 management API, over HTTP."""

from __future__ import annotations

import textwrap

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from django_smartcar.client import (
    InvalidGrantException,
    PermissionException,
    ValidationException,
    Vehicle,
    delete_connections,
    get_connections,
    get_user,
    get_vehicles,
)
from django_smartcar.simulator import errors, faults, grants
from django_smartcar.simulator.models import SimulatedVehicle
from django_smartcar.simulator.seeding import create_vehicle, seed_vehicles
from django_smartcar.simulator.tokens import refresh_token_grace

from .conftest import connect
from .test_standalone import run_official_sdk
from .test_tokens import fresh_code


def api_get(simulator, access_token: str, path: str, **kwargs) -> requests.Response:
    return requests.get(
        f"{simulator.base_url}/{path}",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
        **kwargs,
    )


def api_post(simulator, access_token: str, path: str, body) -> requests.Response:
    return requests.post(
        f"{simulator.base_url}/{path}",
        headers={"Authorization": f"Bearer {access_token}"},
        json=body,
        timeout=10,
    )


def electric_id(simulator, connected) -> str:
    return next(vid for vid in connected.vehicle_ids if SimulatedVehicle.objects.get(pk=vid).is_electric)


# Errors


def test_an_unknown_or_malformed_vehicle_id_is_a_400_validation_error_with_a_null_resolution(
    simulator, connected
):
    someone_elses = create_vehicle(simulator.vehicles[0].user, make="BMW")
    token = connected.access.access_token

    for vehicle_id in ("INVALID_VEHICLE_ID", someone_elses.id):
        response = api_get(simulator, token, f"v2.0/vehicles/{vehicle_id}/odometer")

        assert response.status_code == 400 and response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert (body["type"], body["code"], body["statusCode"]) == ("VALIDATION", None, 400)
        assert body["resolution"] == {"type": None}
        assert body["docURL"].endswith("/validation-errors#null") and body["requestId"]
        assert "suggestedUserMessage" not in body

    # The project's client reads the null code, the null resolution and the missing suggested message.
    with pytest.raises(ValidationException) as caught:
        connected.vehicle("INVALID_VEHICLE_ID").odometer()
    assert caught.value.status_code == 400 and caught.value.code is None
    assert caught.value.resolution == {"type": None, "url": None}
    assert caught.value.suggested_user_message is None and caught.value.request_id


@pytest.mark.parametrize(
    "path, code",
    [
        ("v1.0/user", "VERSION"),
        ("v4/vehicles", "VERSION"),  # v3 exists now (API V3); an unknown version is still refused
        ("no/such/page", "PATH"),
        ("oauth/nothing", "PATH"),
    ],
)
def test_unknown_versions_and_paths_answer_json_resource_not_found(simulator, connected, path, code):
    response = api_get(simulator, connected.access.access_token, path)

    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert (body["type"], body["code"], body["statusCode"]) == ("RESOURCE_NOT_FOUND", code, 404)
    assert body["resolution"] == {"type": None} and response.headers["SC-Request-Id"]


ASLEEP_USER_MESSAGE = "Your vehicle is in a sleep state. This request was not sent to preserve battery life."


def test_resolution_types_follow_the_error_reference(simulator, auth_client, transport):
    limited = connect(auth_client, transport, scope=["read_odometer", "read_battery", "read_fuel"])
    token = limited.access.access_token
    ev = next(vid for vid in limited.vehicle_ids if SimulatedVehicle.objects.get(pk=vid).is_electric)

    def error_of(response: requests.Response) -> tuple[int, str, str | None, str | None]:
        body = response.json()
        # Only where Smartcar's reference documents one, from each code's example answer [err].
        temporarily = (
            "is temporarily unable to connect to <app name>. Please be patient while we\u2019re working"
        )
        documented = {
            ("VEHICLE_STATE", "ASLEEP"): ASLEEP_USER_MESSAGE,
            ("RATE_LIMIT", "SMARTCAR_API"): f"Your vehicle {temporarily} to resolve this issue.",
            ("SERVER", "INTERNAL"): f"Your car {temporarily} to resolve this issue.",
        }
        assert body.get("suggestedUserMessage") == documented.get((body["type"], body["code"]))
        return response.status_code, body["type"], body["code"], body["resolution"]["type"]

    assert error_of(api_get(simulator, token, f"v2.0/vehicles/{ev}/location")) == (
        403,
        "PERMISSION",
        None,
        "REAUTHENTICATE",
    )
    assert error_of(api_get(simulator, "forged", f"v2.0/vehicles/{ev}/odometer")) == (
        401,
        "AUTHENTICATION",
        None,
        None,
    )
    assert error_of(api_get(simulator, token, f"v2.0/vehicles/{ev}/fuel")) == (
        501,
        "COMPATIBILITY",
        "VEHICLE_NOT_CAPABLE",
        None,
    )
    faults.inject("asleep", vehicle=ev, remaining=1)
    assert error_of(api_get(simulator, token, f"v2.0/vehicles/{ev}/odometer")) == (
        409,
        "VEHICLE_STATE",
        "ASLEEP",
        None,
    )
    faults.inject("rate_limit", remaining=1)
    assert error_of(api_get(simulator, token, f"v2.0/vehicles/{ev}/odometer")) == (
        429,
        "RATE_LIMIT",
        "SMARTCAR_API",
        "RETRY_LATER",
    )
    faults.inject("server_errors", statuses=[500], remaining=1)
    assert error_of(api_get(simulator, token, f"v2.0/vehicles/{ev}/odometer")) == (
        500,
        "SERVER",
        "INTERNAL",
        "RETRY_LATER",
    )


def test_connected_services_account_errors_are_400_and_compatibility_501():
    account = errors.connected_services_account_error("ACCOUNT_ISSUE", "Log in to the maker's app.")
    assert account.status == 400 and account.body("r1")["resolution"] == {"type": None}
    failed = errors.connected_services_account_error("AUTHENTICATION_FAILED", "Sign in again.")
    assert failed.body("r2")["resolution"] == {"type": "REAUTHENTICATE"}
    assert errors.vehicle_not_capable("No battery.").status == 501


def post_token(simulator, **form) -> requests.Response:
    return requests.post(
        f"{simulator.base_url}/oauth/token",
        data=form,
        auth=(simulator.client_id, simulator.client_secret),
        timeout=10,
    )


def test_token_errors_quote_what_was_refused_as_smartcar_does(simulator, auth_client):
    used = fresh_code(auth_client)
    auth_client.exchange_code(used)
    other_redirect = "http://127.0.0.1/elsewhere"

    answers = [
        post_token(simulator, grant_type="authorization_code", code=used),
        post_token(simulator, grant_type="refresh_token", refresh_token="not-issued"),
        post_token(
            simulator,
            grant_type="authorization_code",
            code=fresh_code(auth_client),
            redirect_uri=other_redirect,
        ),
    ]

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert [answer.json() for answer in answers] == [
        {"error": "invalid_grant", "error_description": f"Invalid code: {used}."},
        {"error": "invalid_grant", "error_description": "Invalid refresh_token: not-issued."},
        {"error": "invalid_grant", "error_description": f"Unauthorized redirect_uri: {other_redirect}"},
    ]
    # The project's client never repeats them: the code is masked in its exception.
    with pytest.raises(InvalidGrantException) as caught:
        auth_client.exchange_code(used)
    assert used not in str(caught.value) and used not in repr(caught.value)
    assert caught.value.description == "Invalid code: ***."


def test_the_refresh_grace_window_is_configurable(auth_client, frozen_clock, settings):
    settings.SMARTCAR_SIMULATOR = {"REFRESH_TOKEN_GRACE_SECONDS": 120}
    first = auth_client.exchange_code(fresh_code(auth_client))
    auth_client.exchange_refresh_token(first.refresh_token)

    frozen_clock.advance(seconds=119)
    assert auth_client.exchange_refresh_token(first.refresh_token).refresh_token
    frozen_clock.advance(seconds=1)
    with pytest.raises(InvalidGrantException):
        auth_client.exchange_refresh_token(first.refresh_token)


def test_a_bad_grace_window_setting_is_refused(settings):
    settings.SMARTCAR_SIMULATOR = {"REFRESH_TOKEN_GRACE_SECONDS": "ten minutes"}

    with pytest.raises(ImproperlyConfigured, match="REFRESH_TOKEN_GRACE_SECONDS"):
        refresh_token_grace()


# Batch


def test_one_unknown_path_rejects_the_whole_batch_and_out_of_scope_paths_fail_alone(
    simulator, auth_client, transport
):
    limited = connect(auth_client, transport, scope=["read_odometer"])
    vehicle_id, token = limited.vehicle_ids[0], limited.access.access_token
    path = f"v2.0/vehicles/{vehicle_id}/batch"

    rejected = api_post(simulator, token, path, {"requests": [{"path": "/odometer"}, {"path": "/odometr"}]})

    assert rejected.status_code == 400
    body = rejected.json()
    assert body["type"] == "VALIDATION" and "responses" not in body and "/odometr" in body["description"]
    with pytest.raises(ValidationException):
        limited.vehicle(vehicle_id).batch(["/odometer", "/odometr"])

    # A path outside the granted scope fails on its own: a 403 item inside a 200.
    answered = api_post(simulator, token, path, {"requests": [{"path": "/odometer"}, {"path": "/location"}]})
    assert answered.status_code == 200
    items = {item["path"]: item for item in answered.json()["responses"]}
    assert items["/odometer"]["code"] == 200 and items["/location"]["code"] == 403
    assert items["/location"]["body"]["type"] == "PERMISSION"
    answer = limited.vehicle(vehicle_id).batch(["/odometer", "/location"])
    assert answer.result("/odometer").distance > 0
    with pytest.raises(PermissionException):
        answer.result("/location")


# Wire formats


def test_user_and_vehicles_answer_with_a_trailing_slash_too(simulator, connected):
    token = connected.access.access_token
    for path in ("v2.0/user", "v2.0/vehicles"):
        plain, slashed = api_get(simulator, token, path), api_get(simulator, token, f"{path}/")
        assert (plain.status_code, slashed.status_code) == (200, 200)
        assert slashed.json() == plain.json()
    assert (
        get_user(token, transport=connected.transport).id
        == api_get(simulator, token, "v2.0/user/").json()["id"]
    )
    assert api_get(simulator, token, "v2.0/vehicles/").json()["vehicles"] == sorted(
        get_vehicles(token, transport=connected.transport).vehicles
    )


def test_numbers_sent_as_strings_are_taken_and_the_charge_limit_is_half_to_one(simulator, connected):
    token, ev = connected.access.access_token, electric_id(simulator, connected)

    def set_limit(limit) -> requests.Response:
        return api_post(simulator, token, f"v2.0/vehicles/{ev}/charge/limit", {"limit": limit})

    assert set_limit("0.8").status_code == 200
    assert SimulatedVehicle.objects.get(pk=ev).charge_limit == pytest.approx(0.8)
    assert set_limit(0.5).status_code == 200 and set_limit(1).status_code == 200
    for refused in (0.49, "0.4", 1.01, "1.5", "eighty", True, "nan", None):
        response = set_limit(refused)
        assert response.status_code == 400 and response.json()["type"] == "VALIDATION", refused
    destination = api_post(
        simulator,
        token,
        f"v2.0/vehicles/{ev}/navigation/destination",
        {"latitude": "52.5", "longitude": "13.4"},
    )
    assert destination.status_code == 200


# Management API v2


def test_connections_carry_their_mode_and_filter_on_it(simulator, connected, transport):
    # The fixture's vehicles were connected through Connect in simulated mode; these two as live ones.
    live_cars = seed_vehicles(2, seed=7, email="live@example.com")
    grants.connect_vehicles(simulator.application, live_cars)
    amt = simulator.management_token

    listed = get_connections(amt, transport=transport).connections
    modes = {connection.vehicle_id: connection.mode for connection in listed}
    assert modes == {
        **{vehicle_id: "simulated" for vehicle_id in connected.vehicle_ids},
        **{car.id: "live" for car in live_cars},
    }
    live = get_connections(amt, mode="live", transport=transport).connections
    assert sorted(c.vehicle_id for c in live) == sorted(car.id for car in live_cars)
    for mode in ("simulated", "test"):  # test: the deprecated name of simulated
        found = get_connections(amt, mode=mode, transport=transport).connections
        assert sorted(c.vehicle_id for c in found) == sorted(connected.vehicle_ids)
    with pytest.raises(ValidationException):
        get_connections(amt, mode="sandbox", transport=transport)


def test_connections_pages_default_to_10_and_stop_at_100(simulator, transport):
    cars = seed_vehicles(12, seed=3, email="fleet@example.com")
    grants.connect_vehicles(simulator.application, cars)
    amt = simulator.management_token

    first = get_connections(amt, transport=transport)
    assert len(first.connections) == 10 and first.cursor
    rest = get_connections(amt, cursor=first.cursor, transport=transport)
    assert len(rest.connections) == 2 and rest.cursor is None
    assert len(get_connections(amt, limit=100, transport=transport).connections) == 12
    with pytest.raises(ValidationException):
        get_connections(amt, limit=101, transport=transport)


def test_delete_by_user_and_vehicle_together_answers_without_connected_at(simulator, connected, transport):
    user_id, gone = simulator.vehicles[0].user_id, connected.vehicle_ids[0]
    other_user_car = seed_vehicles(1, seed=9, email="other@example.com")[0]
    grants.connect_vehicles(simulator.application, [other_user_car])

    response = requests.delete(
        f"{simulator.base_url}/v2.0/management/connections/",
        params={"user_id": user_id, "vehicle_id": gone},
        auth=("default", simulator.management_token),
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == {"connections": [{"userId": user_id, "vehicleId": gone}]}
    # That user's other vehicles, and a vehicle id with another user, stay connected.
    nothing = delete_connections(
        simulator.management_token, user_id=user_id, vehicle_id=other_user_car.id, transport=transport
    )
    assert nothing.connections == []
    remaining = {
        c.vehicle_id for c in get_connections(simulator.management_token, transport=transport).connections
    }
    assert remaining == {*connected.vehicle_ids[1:], other_user_car.id}
    deleted = delete_connections(
        simulator.management_token, vehicle_id=connected.vehicle_ids[1], transport=transport
    )
    assert [(c.vehicle_id, c.user_id, c.connected_at, c.mode) for c in deleted.connections] == [
        (connected.vehicle_ids[1], user_id, None, None)
    ]


def test_a_disconnected_vehicle_is_unknown_to_its_old_token(simulator, connected):
    gone = connected.vehicle_ids[0]
    delete_connections(simulator.management_token, vehicle_id=gone, transport=connected.transport)

    with pytest.raises(ValidationException) as caught:
        Vehicle(gone, connected.access.access_token, transport=connected.transport).odometer()
    assert caught.value.code is None and caught.value.status_code == 400


# The standalone simulator, driven by the official SDK as a client written for the real service would be.

OFFICIAL_SDK_ERRORS_SCRIPT = textwrap.dedent(
    """
    import json, os
    import requests
    import smartcar
    from django_smartcar.simulator.testing import complete_connect
    from urllib.parse import parse_qs, urlsplit

    client = smartcar.AuthClient(
        os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], os.environ["REDIRECT_URI"], mode="simulated"
    )
    url = client.get_auth_url(["read_vehicle_info", "read_odometer"], {"state": "errors"})
    code = parse_qs(urlsplit(complete_connect(url, email="sdk-errors@example.com")).query)["code"][0]
    access = client.exchange_code(code)
    vehicle_id = smartcar.get_vehicles(access.access_token).vehicles[0]

    def caught(call):
        try:
            call()
        except smartcar.SmartcarException as error:
            return {
                "status_code": error.status_code,
                "type": error.type,
                "code": getattr(error, "code", None),
                "resolution": getattr(error, "resolution", None),
                "suggested_user_message": getattr(error, "suggested_user_message", None),
                "message": str(error),
            }
        return None

    base = os.environ["SMARTCAR_API_ORIGIN"]
    bearer = {"Authorization": f"Bearer {access.access_token}"}
    print(json.dumps({
        "unknown_vehicle": caught(lambda: smartcar.Vehicle("INVALID_VEHICLE_ID", access.access_token).odometer()),
        "misspelled_batch": caught(
            lambda: smartcar.Vehicle(vehicle_id, access.access_token).batch(["/odometer", "/odometr"])
        ),
        "out_of_scope": caught(lambda: smartcar.Vehicle(vehicle_id, access.access_token).location()),
        "used_code": caught(lambda: client.exchange_code(code)),
        "bad_refresh": caught(lambda: client.exchange_refresh_token("bogus-token")),
        "version": requests.get(f"{base}/v1.0/user", headers=bearer, timeout=10).json(),
        "slashed_user": requests.get(f"{base}/v2.0/user/", headers=bearer, timeout=10).json(),
        "user": smartcar.get_user(access.access_token).id,
        "modes": sorted({
            c["mode"] for c in requests.get(
                f"{base}/v2.0/management/connections/",
                params={"vehicle_id": vehicle_id},
                auth=("default", os.environ["AMT"]),
                timeout=10,
            ).json()["connections"]
        }),
        "connections": len(smartcar.get_connections(os.environ["AMT"], {"vehicle_id": vehicle_id}).connections),
    }))
    """
)


def test_the_official_sdk_meets_smartcars_errors_on_the_standalone_simulator(standalone_simulator):
    result = run_official_sdk(standalone_simulator, OFFICIAL_SDK_ERRORS_SCRIPT)

    unknown = result["unknown_vehicle"]
    assert (unknown["status_code"], unknown["type"], unknown["code"]) == (400, "VALIDATION", None)
    assert unknown["resolution"] == {"type": None, "url": None} and unknown["suggested_user_message"] is None
    assert (result["misspelled_batch"]["status_code"], result["misspelled_batch"]["type"]) == (
        400,
        "VALIDATION",
    )
    assert result["out_of_scope"]["resolution"] == {"type": "REAUTHENTICATE", "url": None}
    assert result["used_code"]["status_code"] == 400 and result["used_code"]["type"] == "invalid_grant"
    assert result["used_code"]["message"].startswith("Invalid code: ")
    assert result["bad_refresh"]["message"] == "Invalid refresh_token: bogus-token."
    assert (result["version"]["type"], result["version"]["code"]) == ("RESOURCE_NOT_FOUND", "VERSION")
    assert result["slashed_user"] == {"id": result["user"]}
    assert result["modes"] == ["simulated"] and result["connections"] == 1

"""The standalone server (``python -m django_smartcar.simulator``), driven by the official ``smartcar``
package (pointed at it through its origin variables), by the project's client and by the control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import requests

from django_smartcar.client import (
    AuthClient,
    AuthenticationException,
    RateLimitingException,
    RetryPolicy,
    Transport,
    Vehicle,
    get_vehicles,
)
from django_smartcar.simulator.testing import complete_connect

from .conftest import query_of

OFFICIAL_SDK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import smartcar
    from django_smartcar.simulator.testing import complete_connect
    from urllib.parse import parse_qs, urlsplit

    client = smartcar.AuthClient(
        os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], os.environ["REDIRECT_URI"], mode="simulated"
    )
    url = client.get_auth_url(
        ["read_vehicle_info", "read_odometer", "read_security", "control_security", "read_location"],
        {"state": "sdk-state", "force_prompt": True},
    )
    final = complete_connect(url)
    query = parse_qs(urlsplit(final).query)
    access = client.exchange_code(query["code"][0])
    vehicles = smartcar.get_vehicles(access.access_token)
    vehicle = smartcar.Vehicle(vehicles.vehicles[0], access.access_token, {"unit_system": "imperial"})
    odometer = vehicle.odometer()
    attributes = vehicle.attributes()
    vehicle.unlock()
    unlocked = vehicle.lock_status().is_locked
    vehicle.lock()
    batch = vehicle.batch(["/odometer", "/location", "/fuel"])
    try:
        vehicle.fuel()
        denied = None
    except smartcar.SmartcarException as error:
        denied = [error.status_code, error.type]
    refreshed = client.exchange_refresh_token(access.refresh_token)
    try:
        client.exchange_refresh_token("bogus")
        bad_refresh = None
    except smartcar.SmartcarException as error:
        bad_refresh = [error.status_code, error.type]
    connections = smartcar.get_connections(os.environ["AMT"])
    compatibility = smartcar.get_compatibility(
        "5YJ3E1EA7KF000001",
        ["read_odometer"],
        options={"client_id": os.environ["CLIENT_ID"], "client_secret": os.environ["CLIENT_SECRET"]},
    )
    print(json.dumps({
        "state": query["state"][0],
        "token_type": access.token_type,
        "expires_in": access.expires_in,
        "vehicle_count": vehicles.paging.count,
        "odometer": odometer.distance,
        "unit_system": odometer.meta.unit_system,
        "request_id": odometer.meta.request_id,
        "attributes_id": attributes.id,
        "vehicle_id": vehicles.vehicles[0],
        "unlocked_status": unlocked,
        "batch_odometer": batch.odometer().distance,
        "batch_location": batch.location().latitude,
        "denied": denied,
        "rotated": refreshed.refresh_token != access.refresh_token,
        "bad_refresh": bad_refresh,
        "connections": len(connections.connections),
        "compatible": compatibility.compatible,
    }))
    """
)


def run_official_sdk(standalone_simulator, script: str) -> dict:
    environment = {
        **os.environ,
        "SMARTCAR_CONNECT_ORIGIN": standalone_simulator.base_url,
        "SMARTCAR_AUTH_ORIGIN": f"{standalone_simulator.base_url}/oauth/token",
        "SMARTCAR_API_ORIGIN": standalone_simulator.base_url,
        "SMARTCAR_MANAGEMENT_API_ORIGIN": standalone_simulator.base_url,
        "CLIENT_ID": standalone_simulator.client_id,
        "CLIENT_SECRET": standalone_simulator.client_secret,
        "REDIRECT_URI": standalone_simulator.redirect_uri,
        "AMT": standalone_simulator.management_token,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_official_smartcar_package_works_unchanged(standalone_simulator):
    result = run_official_sdk(standalone_simulator, OFFICIAL_SDK_SCRIPT)

    assert result["state"] == "sdk-state"
    assert (result["token_type"], result["expires_in"]) == ("Bearer", 7200)
    assert result["vehicle_count"] >= 1 and result["attributes_id"] == result["vehicle_id"]
    assert result["odometer"] > 0 and result["unit_system"] == "imperial" and result["request_id"]
    assert result["unlocked_status"] is False
    assert result["batch_odometer"] == pytest.approx(result["odometer"], abs=1)
    assert result["batch_location"] != 0
    assert result["denied"] == [403, "PERMISSION"]
    assert result["rotated"] is True
    assert result["bad_refresh"] == [400, "invalid_grant"]
    assert result["connections"] >= 1 and result["compatible"] is True


@pytest.fixture
def standalone_client(standalone_simulator):
    with Transport(origins=standalone_simulator.origins, retry=RetryPolicy(max_attempts=1)) as transport:
        yield AuthClient(
            standalone_simulator.client_id,
            standalone_simulator.client_secret,
            standalone_simulator.redirect_uri,
            origins=standalone_simulator.origins,
            transport=transport,
        )


def control(standalone_simulator, method: str, path: str, **json_body) -> requests.Response:
    return requests.request(
        method,
        f"{standalone_simulator.base_url}/_simulator/{path}",
        json=json_body,
        headers={"Authorization": f"Bearer {standalone_simulator.management_token}"},
        timeout=10,
    )


def test_the_projects_client_against_the_standalone_server(standalone_simulator, standalone_client):
    final_url = complete_connect(standalone_client.get_auth_url(state="st"), email="standalone@example.com")
    access = standalone_client.exchange_code(query_of(final_url)["code"])

    vehicle_ids = get_vehicles(access.access_token, transport=standalone_client.transport).vehicles
    vehicle = Vehicle(vehicle_ids[0], access.access_token, transport=standalone_client.transport)

    assert vehicle.attributes().id == vehicle_ids[0]
    assert vehicle.lock().status == "success" and vehicle.lock_status().is_locked is True


def test_control_api_moves_the_standalone_clock(standalone_simulator, standalone_client):
    final_url = complete_connect(standalone_client.get_auth_url(), email="clock@example.com")
    access = standalone_client.exchange_code(query_of(final_url)["code"])
    before = control(standalone_simulator, "GET", "clock").json()["offset_seconds"]

    moved = control(standalone_simulator, "POST", "clock", advance_seconds=2 * 3600)
    try:
        assert moved.json()["offset_seconds"] == before + 2 * 3600
        with pytest.raises(AuthenticationException):
            get_vehicles(access.access_token, transport=standalone_client.transport)
    finally:
        control(standalone_simulator, "POST", "clock", offset_seconds=before)


def test_control_api_faults_on_the_standalone_server(standalone_simulator, standalone_client):
    final_url = complete_connect(standalone_client.get_auth_url(), email="faults@example.com")
    access = standalone_client.exchange_code(query_of(final_url)["code"])
    assert (
        control(standalone_simulator, "POST", "faults", kind="rate_limit", retry_after=4).status_code == 201
    )
    try:
        with pytest.raises(RateLimitingException) as caught:
            get_vehicles(access.access_token, transport=standalone_client.transport)
        assert caught.value.retry_after == 4
    finally:
        control(standalone_simulator, "DELETE", "faults")
    assert get_vehicles(access.access_token, transport=standalone_client.transport).vehicles


def test_control_api_seeds_the_standalone_server(standalone_simulator):
    created = control(standalone_simulator, "POST", "seed", count=2, seed=5, email="fleet@example.com")

    assert created.status_code == 201 and len(created.json()["vehicles"]) == 2
    again = control(standalone_simulator, "POST", "seed", count=2, seed=5, email="fleet@example.com")
    assert again.json()["vehicles"] == created.json()["vehicles"]


def test_the_standalone_server_explains_its_options():
    done = subprocess.run(
        [sys.executable, "-m", "django_smartcar.simulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    for option in (
        "--port",
        "--client-id",
        "--client-secret",
        "--redirect-uri",
        "--vehicles",
        "--seed",
        "--latency-ms",
    ):
        assert option in done.stdout

"""Fault injection: each injected failure reaches the client as the exception a real one would raise."""

from __future__ import annotations

import pytest
import requests

from django_smartcar.client import (
    GatewayTimeoutException,
    InvalidGrantException,
    RateLimitingException,
    RetryPolicy,
    ServerException,
    SmartcarTimeout,
    Transport,
    UpstreamException,
    Vehicle,
    VehicleStateException,
)
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import RefreshToken


def test_rate_limit_answers_429_with_retry_after(connected):
    faults.inject("rate_limit", retry_after=17)

    with pytest.raises(RateLimitingException) as caught:
        connected.vehicle().odometer()
    assert caught.value.status_code == 429 and caught.value.retry_after == 17
    assert caught.value.code == "SMARTCAR_API"


def test_a_vehicle_rate_limit_spares_other_vehicles(connected):
    limited, free = connected.vehicle_ids[0], connected.vehicle_ids[1]
    faults.inject("rate_limit", vehicle=limited, retry_after=2)

    with pytest.raises(RateLimitingException) as caught:
        connected.vehicle(limited).odometer()
    assert caught.value.code == "VEHICLE"
    assert connected.vehicle(free).odometer().distance > 0


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (500, ServerException),
        (502, UpstreamException),
        (503, ServerException),
        (504, GatewayTimeoutException),
    ],
)
def test_server_errors_surface_as_their_exception(connected, status, exception):
    faults.inject("server_errors", statuses=[status])

    with pytest.raises(exception) as caught:
        connected.vehicle().odometer()
    assert caught.value.status_code == status


def test_gateway_failures_answer_html_not_json(simulator, connected):
    faults.inject("server_errors", statuses=[504])

    response = requests.get(
        f"{simulator.base_url}/v2.0/vehicles/{connected.vehicle_ids[0]}/odometer",
        headers={"Authorization": f"Bearer {connected.access.access_token}"},
        timeout=10,
    )

    assert response.status_code == 504 and response.headers["Content-Type"].startswith("text/html")


def failure_pattern(vehicle: Vehicle, attempts: int) -> list[bool]:
    pattern = []
    for _ in range(attempts):
        try:
            vehicle.odometer()
        except (ServerException, UpstreamException, RateLimitingException):
            pattern.append(True)
        else:
            pattern.append(False)
    return pattern


def test_a_seeded_fraction_fails_the_same_requests_every_run(connected):
    vehicle = connected.vehicle()
    faults.inject("server_errors", fraction=0.5, statuses=[500, 502], seed=42)
    first = failure_pattern(vehicle, 10)
    faults.clear()
    faults.inject("server_errors", fraction=0.5, statuses=[500, 502], seed=42)

    assert failure_pattern(vehicle, 10) == first
    assert 0 < sum(first) < 10


def test_a_seeded_fraction_of_rate_limits_hits_the_same_requests_every_run(connected):
    vehicle = connected.vehicle()
    faults.inject("rate_limit", fraction=0.4, retry_after=0, seed=7)
    first = failure_pattern(vehicle, 12)
    faults.clear()
    faults.inject("rate_limit", fraction=0.4, retry_after=0, seed=7)

    assert failure_pattern(vehicle, 12) == first
    assert 0 < sum(first) < 12


def test_a_fault_with_remaining_hits_only_that_many_requests(connected):
    faults.inject("server_errors", statuses=[502], remaining=2)

    assert failure_pattern(connected.vehicle(), 4) == [True, True, False, False]


def test_the_clients_retries_ride_out_a_short_outage(simulator, connected):
    faults.inject("server_errors", statuses=[502, 504], remaining=2)
    waits: list[float] = []
    patient = Transport(origins=simulator.origins, retry=RetryPolicy(max_attempts=3, sleep=waits.append))

    assert (
        Vehicle(connected.vehicle_ids[0], connected.access.access_token, transport=patient)
        .odometer()
        .distance
    )
    assert len(waits) == 2
    patient.close()


def test_latency_makes_an_impatient_client_time_out(simulator, connected):
    faults.inject("latency", latency_ms=400)
    impatient = Transport(origins=simulator.origins, timeout=0.1, retry=RetryPolicy(max_attempts=1))

    with pytest.raises(SmartcarTimeout):
        Vehicle(connected.vehicle_ids[0], connected.access.access_token, transport=impatient).odometer()
    impatient.close()


def test_latency_from_settings(simulator, connected, settings):
    settings.SMARTCAR_SIMULATOR = {"LATENCY_MS": 400}
    impatient = Transport(origins=simulator.origins, timeout=0.1, retry=RetryPolicy(max_attempts=1))

    with pytest.raises(SmartcarTimeout):
        Vehicle(connected.vehicle_ids[0], connected.access.access_token, transport=impatient).odometer()
    impatient.close()


def test_faults_from_settings(connected, settings):
    settings.SMARTCAR_SIMULATOR = {"FAULTS": [{"kind": "rate_limit", "retry_after": 3}]}

    with pytest.raises(RateLimitingException) as caught:
        connected.vehicle().odometer()
    assert caught.value.retry_after == 3


def test_a_sleeping_vehicle_answers_409_vehicle_state(connected):
    asleep, awake = connected.vehicle_ids[0], connected.vehicle_ids[1]
    faults.inject("asleep", vehicle=asleep)
    vehicle = connected.vehicle(asleep)

    for call in (vehicle.odometer, vehicle.lock, vehicle.location):
        with pytest.raises(VehicleStateException) as caught:
            call()
        assert caught.value.status_code == 409 and caught.value.code == "ASLEEP"
    assert vehicle.attributes().id == asleep  # answered from Smartcar's records, not the car
    assert {item["code"] for item in vehicle.batch(["/odometer", "/location"]).values()} == {409}
    assert connected.vehicle(awake).odometer().distance > 0


def test_a_lost_token_response_still_rotates_the_refresh_token(
    connected, frozen_clock, one_minute_refresh_grace
):
    auth_client, first = connected.auth_client, connected.access
    issued = RefreshToken.objects.count()
    faults.inject("lose_token_response", remaining=1)

    with pytest.raises(GatewayTimeoutException) as caught:
        auth_client.exchange_refresh_token(first.refresh_token)
    assert caught.value.status_code == 504
    assert RefreshToken.objects.count() == issued + 1  # the lost pair was committed

    frozen_clock.advance(seconds=30)
    assert auth_client.exchange_refresh_token(first.refresh_token).refresh_token  # the grace minute saves it
    frozen_clock.advance(seconds=31)
    with pytest.raises(InvalidGrantException):
        auth_client.exchange_refresh_token(first.refresh_token)


def test_token_endpoint_faults_spare_the_vehicle_api(connected):
    faults.inject("server_errors", target="token", statuses=[502])

    with pytest.raises(UpstreamException):
        connected.auth_client.exchange_refresh_token(connected.access.refresh_token)
    assert connected.vehicle().odometer().distance > 0


def test_clear_switches_faults_off(connected):
    faults.inject("rate_limit")
    faults.inject("asleep", vehicle=connected.vehicle_ids[0])

    assert faults.clear() == 2
    assert connected.vehicle().odometer().distance > 0


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "gremlins"},
        {"kind": "server_errors", "fraction": 1.5},
        {"kind": "server_errors", "statuses": [418]},
        {"kind": "rate_limit", "retry_after": -1},
        {"kind": "asleep", "vehicle_id": "no-such-vehicle"},
        {"kind": "asleep", "target": "token"},
    ],
)
def test_impossible_faults_are_refused(simulator, fields):
    with pytest.raises(ValueError):
        faults.build(**fields)


def test_the_control_endpoint_switches_faults(simulator, connected):
    url = f"{simulator.base_url}/_simulator/faults"
    amt = {"Authorization": f"Bearer {simulator.management_token}"}

    created = requests.post(url, json={"kind": "rate_limit", "retry_after": 9}, headers=amt, timeout=10)
    assert created.status_code == 201 and created.json()["kind"] == "rate_limit"
    with pytest.raises(RateLimitingException):
        connected.vehicle().odometer()
    assert [
        fault["retry_after"] for fault in requests.get(url, headers=amt, timeout=10).json()["faults"]
    ] == [9]

    assert requests.delete(url, headers=amt, timeout=10).json() == {"deleted": 1}
    assert connected.vehicle().odometer().distance > 0


def test_the_control_endpoint_needs_the_management_token_and_good_input(simulator):
    url = f"{simulator.base_url}/_simulator/faults"
    amt = {"Authorization": f"Bearer {simulator.management_token}"}

    assert requests.post(url, json={"kind": "rate_limit"}, timeout=10).status_code == 401
    refused = requests.post(url, json={"kind": "gremlins"}, headers=amt, timeout=10)
    assert refused.status_code == 400 and "kind" in refused.json()["error"]
    for bad in ({"kind": "asleep", "color": "red"}, {"kind": "server_errors", "statuses": 5}):
        assert requests.post(url, json=bad, headers=amt, timeout=10).status_code == 400
    assert requests.post(url, data="{", headers=amt, timeout=10).status_code == 400


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("seed", {"count": 1, "make": 7}),
        ("seed", {"count": 1, "email": "nobody"}),
        ("seed", {"count": "many"}),
        ("clock", {"advance_seconds": 1e12}),
        ("clock", {"offset_seconds": "soon"}),
        ("webhooks", {"url": "ftp://example.com"}),
    ],
)
def test_the_control_api_refuses_bad_input_with_a_400(simulator, path, body):
    response = requests.post(
        f"{simulator.base_url}/_simulator/{path}",
        json=body,
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )

    assert response.status_code == 400 and response.json()["error"]

"""Smartcar's limits and billing, simulated: the application's bucket (429 RATE_LIMIT:SMARTCAR_API), the
per-vehicle throttle (429 RATE_LIMIT:VEHICLE), the monthly count of billed requests (430
BILLING:VEHICLE_REQUEST_LIMIT). The suite's settings turn them off; these tests turn them on, small."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_smartcar.client import (
    AuthClient,
    BillingException,
    RateLimitingException,
    RetryPolicy,
    Transport,
    Vehicle,
    get_vehicles,
)
from django_smartcar.simulator.testing import complete_connect
from tests.conftest import CLIENT_ID, CLIENT_SECRET, make_origins

from .conftest import query_of

OFF = {"APP_RATE_LIMIT": None, "VEHICLE_RATE_LIMIT": None, "VEHICLE_MONTHLY_REQUEST_LIMIT": None}


@pytest.fixture
def limits(settings):
    """Set the simulator's limits for this test (the others stay off)."""

    def configure(**values) -> None:
        settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, **OFF, **values}

    return configure


def test_the_application_bucket_refills_two_a_minute(limits, connected, frozen_clock):
    limits(APP_RATE_LIMIT={"capacity": 3, "refill_per_minute": 2})
    vehicle = connected.vehicle()

    vehicle.odometer()
    vehicle.attributes()
    get_vehicles(connected.access.access_token, transport=connected.transport)
    with pytest.raises(RateLimitingException) as caught:
        vehicle.odometer()

    assert (caught.value.status_code, caught.value.type, caught.value.code) == (
        429,
        "RATE_LIMIT",
        "SMARTCAR_API",
    )
    assert caught.value.retry_after == 30  # one request refills in 60 / 2 seconds
    frozen_clock.advance(seconds=30)
    assert vehicle.odometer().distance > 0
    with pytest.raises(RateLimitingException):
        vehicle.odometer()


def test_the_token_endpoint_does_not_take_from_the_bucket(limits, connected):
    limits(APP_RATE_LIMIT={"capacity": 2, "refill_per_minute": 2})
    for _ in range(3):
        connected.auth_client.exchange_refresh_token(connected.access.refresh_token)
    vehicle = connected.vehicle()

    vehicle.odometer()
    vehicle.odometer()  # the bucket's two tokens, untouched by the exchanges
    with pytest.raises(RateLimitingException):
        vehicle.odometer()


def test_each_vehicle_has_its_own_throttle(limits, connected, frozen_clock):
    limits(VEHICLE_RATE_LIMIT={"requests": 2, "window_seconds": 60})
    first, second = connected.vehicle(connected.vehicle_ids[0]), connected.vehicle(connected.vehicle_ids[1])
    frozen_clock.current = frozen_clock.current.replace(second=10, microsecond=0)

    first.odometer()
    first.batch(["/odometer", "/location", "/vin"])  # one request, however many paths
    with pytest.raises(RateLimitingException) as caught:
        first.location()
    second.odometer()

    assert (caught.value.status_code, caught.value.code) == (429, "VEHICLE")
    assert caught.value.retry_after == 50  # until the minute's window ends
    frozen_clock.advance(seconds=50)
    assert first.location().latitude


def test_billing_counts_each_batch_item_and_answers_430_once_the_month_is_used(
    limits, connected, frozen_clock
):
    limits(VEHICLE_MONTHLY_REQUEST_LIMIT=4)
    vehicle, other = connected.vehicle(connected.vehicle_ids[0]), connected.vehicle(connected.vehicle_ids[1])

    vehicle.batch(["/odometer", "/location", "/vin"])  # three billed
    vehicle.permissions()  # not billed
    vehicle.odometer()  # the fourth
    with pytest.raises(BillingException) as caught:
        vehicle.odometer()

    error = caught.value
    assert (error.status_code, error.type, error.code) == (430, "BILLING", "VEHICLE_REQUEST_LIMIT")
    assert (error.resolution or {}).get("type") == "CONTACT_SUPPORT"
    # The description of the reference's example answer [err, billing-errors#vehicle-request-limit].
    assert (error.description or "").startswith(
        "You have exceeded the number of API requests that are allowed for this vehicle in the current billing period."
    )
    with pytest.raises(BillingException):
        vehicle.lock()
    assert other.odometer().distance > 0  # per vehicle
    # A new month starts a new count.
    first_of_next_month = (frozen_clock.current.replace(day=28) + timedelta(days=5)).replace(day=1, hour=1)
    frozen_clock.current = first_of_next_month
    connected_again = connected.auth_client.exchange_refresh_token(connected.access.refresh_token)
    assert Vehicle(vehicle.vehicle_id, connected_again.access_token, transport=connected.transport).odometer()


def test_limits_are_checked_bucket_then_throttle_then_billing(limits, connected):
    limits(
        APP_RATE_LIMIT={"capacity": 100, "refill_per_minute": 2},
        VEHICLE_RATE_LIMIT={"requests": 1, "window_seconds": 3600},
        VEHICLE_MONTHLY_REQUEST_LIMIT=1,
    )
    vehicle = connected.vehicle()
    vehicle.odometer()

    with pytest.raises(RateLimitingException) as caught:
        vehicle.odometer()  # throttled before billing says anything

    assert caught.value.code == "VEHICLE"


@pytest.fixture
def limited_standalone():
    """A standalone simulator of its own, with small limits from its command line."""
    from tests.conftest import run_standalone_simulator

    limits = ["--app-rate-limit", "50/2", "--vehicle-rate-limit", "off", "--monthly-vehicle-requests", "3"]
    with run_standalone_simulator(*limits, vehicles=2, limits=True) as simulator:
        yield simulator.base_url, simulator.redirect_uri


def test_the_standalone_simulator_bills_from_its_command_line(limited_standalone):
    base_url, redirect_uri = limited_standalone
    with Transport(
        origins=make_origins(base_url), timeout=10, retry=RetryPolicy(max_attempts=1)
    ) as transport:
        auth = AuthClient(
            CLIENT_ID, CLIENT_SECRET, redirect_uri, origins=make_origins(base_url), transport=transport
        )
        final_url = complete_connect(auth.get_auth_url(state="limits"))
        access = auth.exchange_code(query_of(final_url)["code"])
        vehicle_id = get_vehicles(access.access_token, transport=transport).vehicles[0]
        vehicle = Vehicle(vehicle_id, access.access_token, transport=transport)

        vehicle.batch(["/odometer", "/location"])
        vehicle.odometer()
        with pytest.raises(BillingException) as caught:
            vehicle.location()

    assert (caught.value.status_code, caught.value.code) == (430, "VEHICLE_REQUEST_LIMIT")

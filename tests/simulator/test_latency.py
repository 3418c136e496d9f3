"""Smartcar's latency in the simulator (per endpoint class, seeded, time-scaled), and the client against it:
time-outs that fit, and no billed call repeated without cause.

The HTTP tests run the standalone simulator with ``--latency-model smartcar`` at scale 0.01 (an 8 s read takes
80 ms, the 300 s maximum 3 s) and a client whose time-outs are Smartcar's scaled the same way.
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from django_smartcar.client import (
    AuthClient,
    RetryPolicy,
    SmartcarTimeout,
    Timeouts,
    Transport,
    Vehicle,
    get_vehicles,
)
from django_smartcar.simulator import latency
from django_smartcar.simulator.testing import complete_connect
from tests.conftest import run_standalone_simulator

from .conftest import query_of

SCALE = 0.01
SCOPE = ["read_vehicle_info", "read_odometer", "read_location", "read_security", "control_security"]


class TestModel:
    def test_the_same_seed_and_index_give_the_same_delay(self):
        first = [latency.sample("smartcar", latency.READ, 3, index) for index in range(50)]
        again = [latency.sample("smartcar", latency.READ, 3, index) for index in range(50)]
        other_seed = [latency.sample("smartcar", latency.READ, 4, index) for index in range(50)]
        assert first == again
        assert first != other_seed
        assert len(set(first)) > 40

    def test_each_class_has_smartcars_shape(self):
        draws = {
            endpoint: [latency.sample("smartcar", endpoint, 0, index) for index in range(4000)]
            for endpoint in latency.ENDPOINT_CLASSES
        }
        reads, commands = draws[latency.READ], draws[latency.COMMAND]
        # Reads: 3-45 s typically, never beyond 300 s, a tail beyond 45 s.
        assert min(reads) >= 3 and max(reads) <= 300
        assert 6 <= statistics.median(reads) <= 11
        assert 0.01 <= sum(delay > 45 for delay in reads) / len(reads) <= 0.06
        # Commands slower, held at most ~175 s.
        assert min(commands) >= 5 and max(commands) <= 175
        assert statistics.median(commands) > statistics.median(reads)
        # The token endpoint and Smartcar's own endpoints are fast.
        assert max(draws[latency.TOKEN]) <= 2 and max(draws[latency.PLATFORM]) <= 3
        assert statistics.median(draws[latency.TOKEN]) < 1

    def test_no_model_no_delay(self):
        assert latency.sample("none", latency.READ, 0, 0) == 0

    @pytest.mark.parametrize(
        ("method", "path", "expected"),
        [
            ("GET", "odometer", latency.READ),
            ("GET", "security", latency.READ),
            ("POST", "batch", latency.READ),
            ("POST", "security", latency.COMMAND),
            ("POST", "charge/limit", latency.COMMAND),
            ("GET", "", latency.PLATFORM),
            ("GET", "permissions", latency.PLATFORM),
            ("DELETE", "application", latency.PLATFORM),
            ("POST", "webhooks/wh-1", latency.PLATFORM),
            ("GET", "no/such/path", latency.PLATFORM),
        ],
    )
    def test_classes_of_vehicle_requests(self, method, path, expected):
        assert latency.classify(method, path) == expected

    @pytest.mark.parametrize(
        ("paths", "expected"),
        [
            # Attributes and VIN (what Connect's callback and Sync vehicles ask for) are Smartcar's records.
            (["/", "/vin"], latency.PLATFORM),
            (["/vin"], latency.PLATFORM),
            (["/battery/nominal_capacity", "/service/history"], latency.PLATFORM),
            # One path that reaches the car makes the whole batch wait for it.
            (["/", "/vin", "/odometer"], latency.READ),
            (["/security"], latency.READ),
            # Nothing known to go by (the batch is refused anyway): a read, as before.
            (["/", "/no/such/path"], latency.READ),
            ([], latency.READ),
            (None, latency.READ),
        ],
    )
    def test_a_batch_reaches_the_car_when_one_of_its_paths_does(self, paths, expected):
        assert latency.classify("POST", "batch", paths) == expected
        assert latency.classify("POST", "/batch/", paths) == expected


class TestSetting:
    def test_scaled_and_read_at_every_request(self, settings):
        settings.SMARTCAR_SIMULATOR = {"LATENCY": {"model": "smartcar", "scale": 0.001, "seed": 0}}
        assert 0.003 <= latency.delay(latency.READ) <= 0.3
        settings.SMARTCAR_SIMULATOR = {"LATENCY": {"model": "smartcar", "scale": 0}}
        assert latency.delay(latency.READ) == 0
        settings.SMARTCAR_SIMULATOR = {}
        assert latency.delay(latency.READ) == 0

    @pytest.mark.parametrize(
        "value",
        [
            "smartcar",
            {"model": "fast"},
            {"model": "smartcar", "scale": -1},
            {"model": "smartcar", "scale": "0.1"},
            {"model": "smartcar", "seed": 1.5},
            {"model": "smartcar", "speed": 2},
        ],
    )
    def test_invalid_settings_are_explained(self, settings, value):
        settings.SMARTCAR_SIMULATOR = {"LATENCY": value}
        with pytest.raises(ImproperlyConfigured, match="SMARTCAR_SIMULATOR: LATENCY"):
            latency.delay(latency.READ)


# --- over HTTP, against the standalone simulator -------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_simulator():
    args = ("--latency-model", "smartcar", "--latency-scale", str(SCALE), "--latency-seed", "7")
    with run_standalone_simulator(*args) as simulator:
        yield simulator


def control(simulator, method: str, path: str, **params: str) -> requests.Response:
    return requests.request(
        method,
        f"{simulator.base_url}/_simulator/{path}",
        params=params,
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )


def received(simulator, vehicle_id: str) -> Counter[tuple[str, str]]:
    """What the simulator received for one vehicle: (method, path) -> requests."""
    answer = control(simulator, "GET", "requests", vehicle_id=vehicle_id)
    assert answer.status_code == 200, answer.text
    return Counter({(row["method"], row["path"]): row["count"] for row in answer.json()["requests"]})


def connect(simulator, transport: Transport, email: str) -> tuple[str, list[str]]:
    """An access token and the vehicle ids of ``email``'s cars, through Connect and the token endpoint."""
    auth = AuthClient(
        simulator.client_id,
        simulator.client_secret,
        simulator.redirect_uri,
        scope=SCOPE,
        origins=simulator.origins,
        transport=transport,
    )
    access = auth.exchange_code(query_of(complete_connect(auth.get_auth_url(), email=email))["code"])
    return access.access_token, get_vehicles(access.access_token, transport=transport).vehicles


ROUNDS = 2


def drive(vehicle: Vehicle, calls: Counter[tuple[str, str]], failures: list[BaseException]) -> None:
    """A bounded mix of reads and commands, each call counted as the client makes it."""
    script = [
        ("GET", "/odometer", vehicle.odometer),
        ("GET", "/location", vehicle.location),
        ("GET", "/security", vehicle.lock_status),
        ("POST", "/batch", lambda: vehicle.batch(["/odometer", "/location"])),
        ("POST", "/security", vehicle.lock),
        ("POST", "/security", vehicle.unlock),
        ("GET", "/", vehicle.attributes),
    ]
    try:
        for _ in range(ROUNDS):
            for method, path, call in script:
                calls[(method, path)] += 1
                call()
    except BaseException as error:  # reported by the test, not lost in the thread
        failures.append(error)


def test_soak_at_the_compressed_real_latency(slow_simulator):
    """Reads and commands on every car at once, at Smartcar's latency (scaled): with time-outs that fit the
    real service, nothing times out and the simulator receives each call exactly once."""
    retries: list[float] = []
    policy = RetryPolicy(sleep=retries.append)
    with Transport(
        origins=slow_simulator.origins, timeouts=Timeouts().scaled(SCALE), retry=policy
    ) as transport:
        token, vehicle_ids = connect(slow_simulator, transport, slow_simulator.email)
        assert len(vehicle_ids) == 3
        control(slow_simulator, "DELETE", "requests")
        calls = {vehicle_id: Counter[tuple[str, str]]() for vehicle_id in vehicle_ids}
        failures: list[BaseException] = []
        threads = [
            threading.Thread(
                target=drive,
                args=(Vehicle(vehicle_id, token, transport=transport), calls[vehicle_id], failures),
            )
            for vehicle_id in vehicle_ids
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert failures == []
    assert retries == []
    for vehicle_id in vehicle_ids:
        assert received(slow_simulator, vehicle_id) == calls[vehicle_id]
    assert sum(sum(counted.values()) for counted in calls.values()) == 3 * ROUNDS * 7


@pytest.fixture(scope="module")
def own_car(slow_simulator):
    """A car of its own (a new email gets one), so other tests' requests never mix with these counts."""
    with Transport(origins=slow_simulator.origins, timeouts=Timeouts().scaled(SCALE)) as transport:
        token, (vehicle_id,) = connect(slow_simulator, transport, "timeouts@example.com")
    return token, vehicle_id


def impatient(slow_simulator, retries: list[float], **timeouts: float) -> Transport:
    """A client whose time-out for one class is shorter than the model's shortest delay for it (reads wait at
    least 3 s, commands 5 s: 30 and 50 ms at this scale), so that call times out every time."""
    patient = Timeouts().scaled(SCALE)
    return Transport(
        origins=slow_simulator.origins,
        timeouts=Timeouts(**{**patient.__dict__, **timeouts}),
        retry=RetryPolicy(sleep=retries.append),
    )


def test_a_command_that_times_out_is_not_sent_twice(slow_simulator, own_car):
    token, vehicle_id = own_car
    control(slow_simulator, "DELETE", "requests", vehicle_id=vehicle_id)
    retries: list[float] = []
    transport = impatient(slow_simulator, retries, command=0.02)
    with transport, pytest.raises(SmartcarTimeout) as caught:
        Vehicle(vehicle_id, token, transport=transport).lock()
    assert caught.value.request_sent is True
    assert retries == []
    assert received(slow_simulator, vehicle_id) == Counter({("POST", "/security"): 1})


def test_a_read_that_times_out_is_sent_again_once(slow_simulator, own_car):
    token, vehicle_id = own_car
    control(slow_simulator, "DELETE", "requests", vehicle_id=vehicle_id)
    retries: list[float] = []
    with impatient(slow_simulator, retries, read=0.02) as transport, pytest.raises(SmartcarTimeout):
        Vehicle(vehicle_id, token, transport=transport).odometer()
    assert len(retries) == 1
    assert received(slow_simulator, vehicle_id) == Counter({("GET", "/odometer"): 2})


def test_request_counters_need_the_management_token(slow_simulator):
    answer = requests.get(f"{slow_simulator.base_url}/_simulator/requests", timeout=10)
    assert answer.status_code == 401


# A fresh standalone simulator at half of real time, seeded so that its first 30 platform answers take at most
# 0.46 s and its first token answers at most 0.46 s too; a read that reaches the car takes at least 1.5 s. A
# client that gives each request 1.2 s so tells the two classes apart without timing anything itself.
HALF_SCALE, HALF_SEED, IMPATIENT_SECONDS = 0.5, 3, 1.2


@pytest.fixture(scope="module")
def half_speed_simulator():
    args = (
        "--latency-model",
        "smartcar",
        "--latency-scale",
        str(HALF_SCALE),
        "--latency-seed",
        str(HALF_SEED),
    )
    with run_standalone_simulator(*args) as simulator:
        yield simulator


def test_a_batch_of_attributes_and_vin_is_answered_by_smartcar_a_car_read_waits_for_the_car(
    half_speed_simulator,
):
    slowest_platform = max(latency.sample("smartcar", latency.PLATFORM, HALF_SEED, n) for n in range(30))
    assert slowest_platform * HALF_SCALE < IMPATIENT_SECONDS / 2 < IMPATIENT_SECONDS < 3.0 * HALF_SCALE
    retries: list[float] = []
    transport = Transport(
        origins=half_speed_simulator.origins,
        timeouts=Timeouts.every(IMPATIENT_SECONDS),
        retry=RetryPolicy(max_attempts=1, sleep=retries.append),
    )
    with transport:
        token, vehicle_ids = connect(half_speed_simulator, transport, "records@example.com")
        vehicle = Vehicle(vehicle_ids[0], token, transport=transport)
        control(half_speed_simulator, "DELETE", "requests", vehicle_id=vehicle.vehicle_id)

        # What the Connect callback and Sync vehicles ask for, one batch per car: Smartcar's records.
        records = vehicle.batch(["/", "/vin"])
        assert records.result("/").data["make"]  # (the VIN item is refused: this scope has no read_vin)
        # One path that reaches the car makes the whole batch wait for it: longer than this client waits.
        with pytest.raises(SmartcarTimeout):
            vehicle.batch(["/", "/vin", "/odometer"])

    assert retries == []
    assert received(half_speed_simulator, vehicle.vehicle_id) == Counter({("POST", "/batch"): 2})

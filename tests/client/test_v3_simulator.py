"""Every call of the V3 client against the standalone simulator, over real HTTP: the application token, the
Vehicle API V3 (connections, users, vehicles, signals, commands and their errors) and the official SDK 6.x's
V3 calls with a v2 user's token."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_smartcar import client as smartcar
from django_smartcar.client import (
    AuthClient,
    OAuthException,
    ResourceNotFoundException,
    RetryPolicy,
    SmartcarException,
    Transport,
    ValidationException,
    VehicleStateException,
    v3,
)
from django_smartcar.simulator.testing import complete_connect

from ..conftest import run_standalone_simulator

SCOPE = [
    "read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_battery",
    "read_charge",
    "control_charge",
    "read_security",
    "control_security",
    "control_navigation",
]


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def transport(standalone_simulator):
    with Transport(
        origins=standalone_simulator.origins, timeout=10, retry=RetryPolicy(max_attempts=1)
    ) as sending:
        yield sending


@pytest.fixture
def token(standalone_simulator, transport) -> v3.ApplicationToken:
    return v3.ApplicationToken(
        standalone_simulator.api_client_id, standalone_simulator.api_client_secret, transport=transport
    )


@pytest.fixture
def api(token, transport) -> v3.VehicleApi:
    return v3.VehicleApi(token, transport=transport)


def connect(simulator, transport, scope=SCOPE) -> dict[str, str]:
    """A new owner (the standalone simulator is shared by the session) connects a car: the redirect's query."""
    auth = AuthClient(
        simulator.client_id,
        simulator.client_secret,
        simulator.redirect_uri,
        False,
        "simulated",
        origins=simulator.origins,
        transport=transport,
    )
    url = auth.get_auth_url(scope, {"state": "v3-client", "force_prompt": True, "make_bypass": "TESLA"})
    query = query_of(complete_connect(url, email=f"v3-{uuid.uuid4().hex[:10]}@example.com"))
    query["access_token"] = auth.exchange_code(query["code"]).access_token
    return query


@pytest.fixture
def owner(standalone_simulator, transport, api) -> dict[str, str]:
    """A connected owner: the redirect's user_id and state, a v2 access token, and the car's vehicle id."""
    query = connect(standalone_simulator, transport)
    (connection,) = api.list_connections(user_id=query["user_id"])
    return {**query, "vehicle_id": connection.vehicle_id, "connection_id": connection.id}


def test_the_application_token_from_the_simulators_iam(standalone_simulator, transport):
    before = datetime.now(timezone.utc)
    cached = v3.request_application_token(
        standalone_simulator.api_client_id, standalone_simulator.api_client_secret, transport=transport
    )
    assert cached.access_token
    assert (
        before + timedelta(minutes=55) < cached.expires_at <= datetime.now(timezone.utc) + timedelta(hours=1)
    )
    with pytest.raises(OAuthException) as caught:
        v3.request_application_token(standalone_simulator.api_client_id, "wrong-secret", transport=transport)
    assert (caught.value.status_code, caught.value.type) == (401, "invalid_client")
    assert "wrong-secret" not in str(caught.value)


def test_connections_paged_filtered_read_and_the_vehicle(standalone_simulator, transport, api, owner):
    assert owner["state"] == "v3-client"
    user_id = owner["user_id"]
    page = api.list_connections(user_id=user_id, mode="simulated", page_size=1)
    (connection,) = page
    assert (page.page, page.page_size, page.total_count) == (1, 1, 1)
    assert (connection.user_id, connection.vehicle_id, connection.make) == (
        user_id,
        owner["vehicle_id"],
        "TESLA",
    )
    assert set(SCOPE) <= set(connection.permissions)
    assert connection.created_at is not None
    assert [item.id for item in api.iter_connections(vehicle_id=owner["vehicle_id"])] == [connection.id]
    assert api.list_connections(user_id=user_id, mode="live").items == []
    # Paging over several owners: page 1 then page 2 of size 1 are two different connections.
    connect(standalone_simulator, transport)
    first, second = api.list_connections(page_size=1), api.list_connections(page=2, page_size=1)
    assert first.has_next and first[0].id != second[0].id

    same = api.get_connection(connection.id)
    assert (same.id, same.vehicle_id, same["data"]["type"]) == (
        connection.id,
        owner["vehicle_id"],
        "connection",
    )
    info = api.get_vehicle(owner["vehicle_id"])
    assert (info.id, info.make, info.powertrain_type, info.mode) == (
        owner["vehicle_id"],
        "TESLA",
        "BEV",
        "simulated",
    )
    with pytest.raises(ResourceNotFoundException):
        api.get_connection(str(uuid.uuid4()))


def test_signals_all_and_one(api, owner):
    car = api.vehicle(owner["vehicle_id"], owner["user_id"])
    signals = car.signals()
    assert signals.vehicle.id == owner["vehicle_id"]
    odometer = signals.get("odometer-traveleddistance")
    assert odometer.succeeded and odometer.value > 0 and odometer.unit == "km"
    assert odometer.retrieved_at is not None
    assert signals["data"][0]["type"] == "signal"
    assert isinstance(signals.get("closure-islocked").value, bool)
    # Out of scope, or not capable: an ERROR signal, the read itself succeeds.
    fuel = signals.get("internalcombustionengine-fuellevel")
    assert fuel is None or fuel.status == "ERROR"

    one = car.signal("tractionbattery-stateofcharge")
    assert (one.code, one.group, one.unit) == ("tractionbattery-stateofcharge", "TractionBattery", "percent")
    assert 0 <= one.value <= 100
    with pytest.raises(ResourceNotFoundException):
        car.signal("nothing-nothing")


def test_every_command_and_its_effect(api, owner):
    """Each command's effect shows in the signals read next (the same car as v2's)."""
    car = api.vehicle(owner["vehicle_id"], owner["user_id"])
    locked = car.lock()
    assert (locked.http_status, locked.succeeded, locked.command_type) == (200, True, "security-lock")
    assert locked.completed_at is not None
    assert car.signal("closure-islocked").value is True
    assert car.unlock().succeeded
    assert car.signal("closure-islocked").value is False

    limit = car.set_charge_limit(80)
    assert (limit.succeeded, limit.parameters) == (True, {"percent": 80})
    assert car.signal("charge-chargelimits").body["values"][0]["limit"] == 80
    destination = car.set_destination(52.52, 13.405)
    assert destination.parameters == {"latitude": 52.52, "longitude": 13.405}
    plugged = car.signal("charge-ischargingcableconnected").value
    if plugged:
        # A car at or above its limit reports FULLY_CHARGED, not charging: raise the limit first (the seeded
        # car's battery level depends on what earlier tests did with it).
        assert car.set_charge_limit(100).succeeded
        full = car.signal("tractionbattery-stateofcharge").value >= 100
        assert car.start_charge().command_type == "charge-start"
        assert car.signal("charge-ischarging").value is not full
        assert car.stop_charge().command_type == "charge-stop"
        assert car.signal("charge-ischarging").value is False
    else:  # refused as v2 refuses it
        with pytest.raises(VehicleStateException) as refused:
            car.start_charge()
        assert refused.value.code == "CHARGING_PLUG_NOT_CONNECTED"
    assert car.send_command("security/lock").command_type == "security-lock"


def test_command_and_user_errors(api, owner, standalone_simulator, transport):
    car = api.vehicle(owner["vehicle_id"], owner["user_id"])
    with pytest.raises(ValidationException) as caught:
        car.set_charge_limit(30)  # below Smartcar's minimum of 50
    assert caught.value.errors[0]["status"] == "400"
    with pytest.raises(ResourceNotFoundException):
        car.send_command("security/explode")
    # Another user's id does not reach this car.
    stranger = connect(standalone_simulator, transport)
    with pytest.raises(SmartcarException) as caught:
        api.get_signals(owner["vehicle_id"], stranger["user_id"])
    assert caught.value.status_code in (400, 404)


def test_a_refused_application_token_is_replaced_once(standalone_simulator, transport, owner):
    store = v3.MemoryTokenStore()
    store.save(v3.CachedToken("revoked-or-unknown", datetime.now(timezone.utc) + timedelta(minutes=30)))
    token = v3.ApplicationToken(
        standalone_simulator.api_client_id,
        standalone_simulator.api_client_secret,
        transport=transport,
        store=store,
    )
    api = v3.VehicleApi(token, transport=transport)
    assert api.lock(owner["vehicle_id"], owner["user_id"]).succeeded
    assert token.requests_made == 1
    assert store.load().access_token != "revoked-or-unknown"


def test_deleting_a_connection_and_a_user(standalone_simulator, transport, api, owner):
    api.delete_connection(owner["connection_id"])
    assert api.list_connections(user_id=owner["user_id"]).items == []
    other = connect(standalone_simulator, transport)
    assert len(api.list_connections(user_id=other["user_id"])) == 1
    api.delete_user(other["user_id"])
    assert api.list_connections(user_id=other["user_id"]).items == []


def test_the_official_sdks_v3_calls_with_a_v2_users_token(transport, owner):
    vehicle = smartcar.Vehicle(owner["vehicle_id"], owner["access_token"], transport=transport)
    signals = vehicle.get_signals()
    assert signals["body"]["data"] and signals["headers"]
    assert "odometer-traveleddistance" in signals
    signal = vehicle.get_signal("odometer-traveleddistance")
    assert signal["body"]["attributes"]["code"] == signal.code == "odometer-traveleddistance"
    info = smartcar.get_vehicle(owner["access_token"], owner["vehicle_id"], transport=transport)
    assert info["body"]["data"]["attributes"]["make"] == info.make == "TESLA"


def test_a_command_held_open_answers_202_with_its_final_result():
    # Smartcar time at 1/1000: a 200 ms latency fault is 200 s of Smartcar's, past its ~175 s sync limit.
    with (
        run_standalone_simulator(
            "--latency-model", "smartcar", "--latency-scale", "0.001", vehicles=1
        ) as slow,
        Transport(origins=slow.origins, timeout=10, retry=RetryPolicy(max_attempts=1)) as transport,
    ):
        token = v3.ApplicationToken(slow.api_client_id, slow.api_client_secret, transport=transport)
        api = v3.VehicleApi(token, transport=transport)
        owner = connect(slow, transport)
        (connection,) = api.list_connections(user_id=owner["user_id"])
        added = requests.post(
            f"{slow.base_url}/_simulator/faults",
            json={
                "kind": "latency",
                "vehicle_id": connection.vehicle_id,
                "latency_ms": 200,
                "remaining": 1,
            },
            headers={"Authorization": f"Bearer {slow.management_token}"},
            timeout=10,
        )
        assert added.status_code in (200, 201), added.text
        held = api.unlock(connection.vehicle_id, owner["user_id"])
        assert (held.http_status, held.succeeded, held.command_type) == (202, True, "security-unlock")
        assert held.duration_seconds > 175
        assert api.lock(connection.vehicle_id, owner["user_id"]).http_status == 200


@pytest.fixture
def management(token, transport) -> v3.ManagementApi:
    return v3.ManagementApi(token, transport=transport)


def register_webhook(simulator, name: str) -> str:
    """A webhook made as the Dashboard would (the simulator's control API): its id."""
    answer = requests.post(
        f"{simulator.base_url}/_simulator/webhooks",
        json={
            "url": "http://127.0.0.1:9/hook",
            "name": name,
            "triggers": ["closure-islocked"],
            "data": ["odometer-traveleddistance", "closure-islocked"],
        },
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["webhookId"])


def test_webhooks_listed_filtered_and_read(standalone_simulator, management):
    name = f"v3-client-{uuid.uuid4().hex[:8]}"
    webhook_id = register_webhook(standalone_simulator, name)
    page = management.list_webhooks(name=name, is_enabled=True, page_size=10)
    (webhook,) = page
    assert (webhook.id, webhook.name, webhook.is_enabled, webhook.auto_subscribe) == (
        webhook_id,
        name,
        True,
        False,
    )
    assert [trigger["code"] for trigger in webhook.triggers] == ["closure-islocked"]
    assert {signal["code"] for signal in webhook.signals} == {"odometer-traveleddistance", "closure-islocked"}
    assert management.list_webhooks(name=name, is_enabled=False).items == []
    assert webhook_id in {item.id for item in management.iter_webhooks(page_size=1)}
    same = management.get_webhook(webhook_id)
    assert (same.id, same.callback_uri, same["data"]["type"]) == (
        webhook_id,
        "http://127.0.0.1:9/hook",
        "webhook",
    )
    assert same.created_at is not None
    with pytest.raises(ResourceNotFoundException):
        management.get_webhook("no-such-webhook")


def test_subscriptions_created_listed_read_and_deleted(standalone_simulator, management, owner):
    webhook_id = register_webhook(standalone_simulator, f"v3-subs-{uuid.uuid4().hex[:8]}")
    user_id, vehicle_id = owner["user_id"], owner["vehicle_id"]
    created = management.create_subscription(webhook_id, user_id, vehicle_id)
    assert (created.created, created.already_exists, created.http_status) == (True, False, 202)
    assert created.message == "subscription creation in progress"
    again = management.create_subscription(webhook_id, user_id, vehicle_id)
    assert (again.created, again.already_exists, again.http_status) == (False, True, 409)

    page = management.list_subscriptions(user_id=user_id, webhook_id=webhook_id, vehicle_id=vehicle_id)
    (subscription,) = page
    assert (subscription.webhook_id, subscription.user_id, subscription.vehicle_id) == (
        webhook_id,
        user_id,
        vehicle_id,
    )
    assert (subscription.make, subscription.mode) == ("TESLA", "simulated")
    assert [item.id for item in management.iter_subscriptions(webhook_id=webhook_id, page_size=1)] == [
        subscription.id
    ]
    assert management.get_subscription(subscription.id).vehicle_id == vehicle_id
    management.delete_subscription(subscription.id)
    assert management.list_subscriptions(webhook_id=webhook_id).items == []
    with pytest.raises(ResourceNotFoundException):
        management.get_subscription(subscription.id)
    with pytest.raises(ResourceNotFoundException) as caught:
        management.create_subscription(webhook_id, user_id, "no-such-vehicle")
    assert caught.value.errors[0]["status"] == "404"


def test_the_readme_example_runs(standalone_simulator, transport, owner, monkeypatch):
    from tests.test_readme import run_example

    base = standalone_simulator.base_url
    for name in (
        "SMARTCAR_IAM_ORIGIN",
        "SMARTCAR_VEHICLE_API_V3_ORIGIN",
        "SMARTCAR_MANAGEMENT_API_V3_ORIGIN",
    ):
        monkeypatch.setenv(name, base)
    webhook_id = register_webhook(standalone_simulator, f"readme-{uuid.uuid4().hex[:8]}")
    api = v3.VehicleApi(
        v3.ApplicationToken(
            standalone_simulator.api_client_id, standalone_simulator.api_client_secret, transport=transport
        ),
        transport=transport,
    )
    api.unlock(owner["vehicle_id"], owner["user_id"])
    namespace = run_example(
        "client-v3",
        {
            "api_client_id": standalone_simulator.api_client_id,
            "api_client_secret": standalone_simulator.api_client_secret,
            "user_id": owner["user_id"],
            "webhook_id": webhook_id,
        },
    )
    assert namespace["execution"].succeeded  # the unlocked car was locked
    assert namespace["answer"].created
    assert api.get_signal(owner["vehicle_id"], "closure-islocked", owner["user_id"]).value is True

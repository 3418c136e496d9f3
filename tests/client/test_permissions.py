"""Smartcar's documented permissions in one registry (smartcar-v3.md S7.10): every one of them and the ``required:``
prefix are accepted, a typo is refused with the closest name, and the Connect URL carries the scope unchanged to
the standalone simulator, which grants them as Smartcar does."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from django_smartcar.client import (
    ALL_SCOPES,
    PERMISSIONS,
    AuthClient,
    InvalidScope,
    RetryPolicy,
    Transport,
    Vehicle,
    get_vehicles,
    permission_name,
    permission_names,
    validate_scope,
)
from django_smartcar.client.permissions import CONTROL_PERMISSIONS, READ_PERMISSIONS, closest_scope_item
from django_smartcar.simulator import permissions as simulator_permissions
from django_smartcar.simulator.testing import ConnectFlowError, complete_connect

SCOPE = "required:read_odometer read_climate read_vin"

DOCUMENTED = {
    # The v2 endpoints' thirteen.
    "read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_fuel",
    "read_battery",
    "read_charge",
    "control_charge",
    "read_engine_oil",
    "read_tires",
    "read_security",
    "control_security",
    "control_navigation",
    # The others [A/permissions].
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
}


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_the_registry_holds_every_documented_permission_with_its_kind():
    assert set(PERMISSIONS) == DOCUMENTED and len(PERMISSIONS) == 28
    assert set(CONTROL_PERMISSIONS) == {
        "control_charge",
        "control_security",
        "control_navigation",
        "control_climate",
        "control_pin",
        "control_trunk",
    }
    assert set(READ_PERMISSIONS) == DOCUMENTED - set(CONTROL_PERMISSIONS)
    assert PERMISSIONS["control_trunk"].kind == "control" and PERMISSIONS["read_climate"].kind == "read"
    assert all(item.name == name and item.description for name, item in PERMISSIONS.items())
    assert set(ALL_SCOPES) < set(PERMISSIONS) and len(ALL_SCOPES) == 13


def test_the_simulator_reads_the_clients_registry():
    # One home: the simulator's Connect words and accepts exactly the client's list.
    assert simulator_permissions.PERMISSIONS == {name: item.description for name, item in PERMISSIONS.items()}
    assert simulator_permissions.ALL_SCOPES is ALL_SCOPES


def test_every_documented_permission_and_the_required_prefix_are_valid():
    assert validate_scope(SCOPE) == ["required:read_odometer", "read_climate", "read_vin"]
    everything = [*PERMISSIONS, *(f"required:{name}" for name in PERMISSIONS)]
    assert validate_scope(everything) == everything
    assert validate_scope([]) == []


def test_the_prefix_is_stripped_where_permissions_are_reasoned_about():
    assert permission_name("required:read_odometer") == "read_odometer"
    assert permission_name("read_climate") == "read_climate"
    assert permission_names(f"{SCOPE} read_odometer") == ["read_odometer", "read_climate", "read_vin"]


@pytest.mark.parametrize(
    ("typo", "closest"),
    [
        ("read_odometr", "read_odometer"),
        ("required:read_odometr", "required:read_odometer"),
        ("require:read_vin", "required:read_vin"),
        ("read_climat", "read_climate"),
        ("controll_trunk", "control_trunk"),
    ],
)
def test_a_typo_is_refused_with_the_closest_permission(typo, closest):
    assert closest_scope_item(typo) == closest
    with pytest.raises(InvalidScope, match=f"'{typo}' \\(did you mean '{closest}'\\?\\)") as caught:
        validate_scope(["read_vin", typo])
    assert caught.value.unknown == [typo] and isinstance(caught.value, ValueError)


def test_auth_client_refuses_an_unknown_permission_and_passes_the_others_unchanged():
    ids = ("client-id", "client-secret", "http://127.0.0.1:9/callback")
    with pytest.raises(ValueError, match="read_odometer"):
        AuthClient(*ids, scope=["required:read_odometr"])
    client = AuthClient(*ids, scope=SCOPE)
    assert client.scope == ("required:read_odometer", "read_climate", "read_vin")
    assert query_of(client.get_auth_url())["scope"] == SCOPE
    assert query_of(client.get_auth_url(["required:control_trunk", "read_thermometer"]))["scope"] == (
        "required:control_trunk read_thermometer"
    )
    with pytest.raises(ValueError, match="read_thermometer"):
        client.get_auth_url("read_termometer")


@pytest.fixture
def transport(standalone_simulator):
    with Transport(
        origins=standalone_simulator.origins, timeout=10, retry=RetryPolicy(max_attempts=1)
    ) as sending:
        yield sending


@pytest.fixture
def client(standalone_simulator, transport) -> AuthClient:
    # The official SDK 6.x form: AuthClient(client_id, client_secret, redirect_uri, test_mode, mode).
    return AuthClient(
        standalone_simulator.client_id,
        standalone_simulator.client_secret,
        standalone_simulator.redirect_uri,
        False,
        "simulated",
        origins=standalone_simulator.origins,
        transport=transport,
    )


def test_connect_grants_the_new_permissions_and_the_owner_cannot_untick_a_required_one(client, transport):
    owner = f"scopes-{uuid.uuid4().hex[:10]}@example.com"  # the standalone simulator is shared by the session
    url = client.get_auth_url(SCOPE, {"state": "scopes-1", "make_bypass": "TESLA"})
    assert query_of(url)["scope"] == SCOPE

    with pytest.raises(ConnectFlowError, match="read_odometer"):
        complete_connect(url, email=owner, untick=["read_odometer"])
    final = complete_connect(url, email=owner, untick=["read_vin"])

    access = client.exchange_code(query_of(final)["code"])
    vehicle_id = get_vehicles(access.access_token, transport=transport).vehicles[0]
    vehicle = Vehicle(vehicle_id, access.access_token, transport=transport)
    assert sorted(vehicle.permissions()) == ["read_climate", "read_odometer"]
    assert vehicle.has_permissions(["read_climate", "read_odometer"])
    assert not vehicle.has_permissions("read_vin")


def test_compatibility_takes_a_connect_scope(client):
    # ``required:`` is Connect's alone: the compatibility API is sent the bare permissions.
    answer = client.get_compatibility("5YJ3E1EA7KF000001", "required:read_odometer read_vin")
    assert answer.compatible is True
    assert {capability.permission for capability in answer.capabilities} == {"read_odometer", "read_vin"}

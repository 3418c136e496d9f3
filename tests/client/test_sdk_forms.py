"""Code written for the seeds (4.x docs) or the official SDK 6.x runs unchanged against the standalone simulator:
the 6.x call forms, ``AuthClient.is_compatible``, ``vin()`` as a string and ``permissions()`` as a list, and the
re-authentication URL."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from django_smartcar.client import (
    AuthClient,
    RetryPolicy,
    Transport,
    Vehicle,
    get_compatibility,
    get_vehicles,
)
from django_smartcar.simulator.testing import complete_connect


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def transport(standalone_simulator):
    with Transport(
        origins=standalone_simulator.origins, timeout=10, retry=RetryPolicy(max_attempts=1)
    ) as sending:
        yield sending


@pytest.fixture
def client(standalone_simulator, transport) -> AuthClient:
    # The 6.x positional form: AuthClient(client_id, client_secret, redirect_uri, test_mode, mode).
    return AuthClient(
        standalone_simulator.client_id,
        standalone_simulator.client_secret,
        standalone_simulator.redirect_uri,
        False,
        "simulated",
        origins=standalone_simulator.origins,
        transport=transport,
    )


@pytest.fixture
def owner() -> str:
    """A Smartcar user of its own: the standalone simulator is shared by the whole session."""
    return f"sdk-{uuid.uuid4().hex[:10]}@example.com"


def connect(client: AuthClient, transport: Transport, owner: str, scope: list[str], **connect_options):
    url = client.get_auth_url(scope, {"state": "sdk-1", "force_prompt": True, "make_bypass": "TESLA"})
    final = complete_connect(url, email=owner, **connect_options)
    access = client.exchange_code(query_of(final)["code"])
    return access, get_vehicles(access.access_token, transport=transport).vehicles[0]


def test_the_6x_constructor_forms_pick_the_mode(standalone_simulator):
    ids = (
        standalone_simulator.client_id,
        standalone_simulator.client_secret,
        standalone_simulator.redirect_uri,
    )

    assert AuthClient(*ids, False, "simulated").mode == "simulated"
    assert AuthClient(*ids, True).mode == "test"
    assert AuthClient(*ids, None, "live").mode == "live"
    assert AuthClient(*ids, ["read_vin"], True).scope == ("read_vin",)  # the 4.x form still works


def test_get_auth_url_takes_the_6x_options(client):
    query = query_of(
        client.get_auth_url(
            ["read_vin"],
            {
                "force_prompt": True,
                "state": "s-6",
                "make_bypass": "FORD",
                "single_select": {"vin": "1FA00000000000001"},
            },
        )
    )

    assert query["approval_prompt"] == "force" and query["state"] == "s-6" and query["mode"] == "simulated"
    assert query["single_select"] == "true" and query["single_select_vin"] == "1FA00000000000001"
    with pytest.raises(ValueError, match="make"):
        client.get_auth_url(["read_vin"], {"make": "FORD"})


def test_vin_and_permissions_read_as_the_seeds_return_them(client, transport, owner):
    access, vehicle_id = connect(
        client,
        transport,
        owner,
        ["required:read_vin", "read_odometer", "read_location"],
        untick=["read_location"],
    )
    vehicle = Vehicle(vehicle_id, access.access_token, {"unit_system": "imperial"}, transport=transport)

    vin = vehicle.vin()
    assert isinstance(vin, str) and len(vin) == 17 and vin[:3] in ("5YJ", "7SA"), vin
    assert vin == vin.vin and vin["vin"] == vin and vin.meta.request_id
    permissions = vehicle.permissions()
    assert isinstance(permissions, list) and sorted(permissions) == ["read_odometer", "read_vin"]
    assert "read_location" not in permissions and permissions.paging.count == 2
    assert vehicle.permissions({"limit": 1, "offset": 1}) == permissions[1:]
    assert vehicle.odometer().meta.unit_system == "imperial"


def test_is_compatible_on_the_client_and_get_compatibility_with_options(
    client, transport, standalone_simulator
):
    assert client.is_compatible("5YJ3E1EA7KF000001", ["read_odometer"]) is True
    assert client.is_compatible("0SCAUDI012FE3B132", ["read_odometer"]) is False

    answer = get_compatibility(
        "0SCAUDI012FE3B132",
        ["read_odometer"],
        "US",
        {"client_id": standalone_simulator.client_id, "client_secret": standalone_simulator.client_secret},
        transport=transport,
    )
    assert (answer.compatible, answer.reason, answer.capabilities) == (False, "VEHICLE_NOT_COMPATIBLE", [])


def test_reauthentication_url_brings_the_vehicle_id_back(client, transport, owner):
    _access, vehicle_id = connect(client, transport, owner, ["read_odometer"])

    final = complete_connect(client.get_reauth_url(vehicle_id, state="again"), email=owner)

    assert query_of(final) == {"vehicle_id": vehicle_id, "state": "again"}

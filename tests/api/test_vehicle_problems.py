"""What Smartcar reported wrong with a vehicle, shown read-only: ``missing_permissions`` and ``vehicle_errors``
in the REST API (and its OpenAPI schema) and in the admin (list indicator and change page)."""

from __future__ import annotations

import pytest
from django.test import Client

from django_smartcar import client
from django_smartcar.services.vehicles import record_vehicle_problems, refresh_vehicle_data
from django_smartcar.simulator import faults
from tests.api.conftest import API
from tests.app.test_admin import VEHICLES_URL, operator  # noqa: F401


@pytest.fixture
def troubled(account):
    """A vehicle whose owner's car maker account needs action (a real 400 from the simulator), and which a
    webhook said lacks read_location."""
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code="SUBSCRIPTION")
    with pytest.raises(client.SmartcarException):
        refresh_vehicle_data(vehicle)
    faults.clear()
    record_vehicle_problems(vehicle, missing_permissions=["read_location"])
    return vehicle


def test_the_api_shows_missing_permissions_and_unresolved_errors(troubled, browser):
    body = browser.get(f"{API}/vehicles/{troubled.pk}/").json()

    assert body["missing_permissions"] == ["read_location"]
    [error] = body["vehicle_errors"]
    assert (error["type"], error["code"]) == ("CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION") and error["since"]


def test_the_schema_documents_both_fields(client: Client):
    vehicle = client.get("/api/schema/?format=json").json()["components"]["schemas"]["Vehicle"]

    assert vehicle["properties"]["missing_permissions"]["type"] == "array"
    errors = vehicle["properties"]["vehicle_errors"]
    assert errors["type"] == "array" and errors["readOnly"]
    assert {"missing_permissions", "vehicle_errors"} <= set(vehicle["required"])


def test_the_admin_lists_a_problem_indicator_and_shows_both_read_only(troubled, operator):  # noqa: F811
    listing = operator.get(VEHICLES_URL).content.decode()
    assert "subscription; missing read_location" in listing

    page = operator.get(f"{VEHICLES_URL}{troubled.pk}/change/").content.decode()
    assert "Missing permissions" in page and "Unresolved errors" in page
    assert "CONNECTED_SERVICES_ACCOUNT:SUBSCRIPTION (since " in page
    assert 'name="missing_permissions"' not in page and 'name="vehicle_errors"' not in page

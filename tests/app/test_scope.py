"""SMARTCAR["SCOPE"] may name any documented permission, ``required:`` ones included: Connect through the app's
views and the live simulator asks for them unchanged, grants them, and the app stores and reasons about bare names."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from django_smartcar.models import SmartcarAccount
from django_smartcar.services.vehicles import refreshable_paths
from django_smartcar.simulator.testing import ConnectFlowError, complete_connect

from .conftest import DRIVER, return_to_callback, start_connect

SCOPE = ["required:read_odometer", "read_climate", "read_vin"]


@pytest.fixture
def scoped(smartcar, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "SCOPE": SCOPE}
    return smartcar


def test_connect_asks_for_the_scope_as_configured_and_the_owner_cannot_untick_a_required_one(scoped, browser):
    url = start_connect(browser, make="TESLA")
    assert parse_qs(urlsplit(url).query)["scope"] == [" ".join(SCOPE)]

    with pytest.raises(ConnectFlowError, match="read_odometer"):
        complete_connect(url, email=DRIVER, untick=["read_odometer"])
    response = return_to_callback(browser, complete_connect(url, email=DRIVER, untick=["read_vin"]))

    assert response.status_code == 302, response.content
    account = SmartcarAccount.objects.get()
    # What the app asked for and what it was granted, as bare permission names.
    assert account.scope == ["read_odometer", "read_climate", "read_vin"]
    vehicle = account.vehicles.first()
    assert sorted(vehicle.permissions) == ["read_climate", "read_odometer"]
    assert vehicle.has_permission("read_climate") and vehicle.has_permission("required:read_odometer")
    assert not vehicle.has_permission("read_vin")
    # Neither read_vehicle_info nor read_vin granted: the car is stored without them, not refused.
    assert (vehicle.make, vehicle.model, vehicle.year, vehicle.vin) == ("", "", None, "")
    assert refreshable_paths(vehicle) == ["/odometer"]

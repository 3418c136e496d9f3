"""API details clients read as bugs: request bodies always parsed, one not-found message, 401 challenges."""

from __future__ import annotations

import pytest

from django_smartcar.models import SmartcarAccount, VehicleCommand
from django_smartcar.simulator.models import SimulatedVehicle
from tests.api.conftest import API

MALFORMED_JSON = "{not json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "vehicles/{vehicle}/lock/"),
        ("post", "vehicles/{vehicle}/unlock/"),
        ("post", "vehicles/{vehicle}/start-charge/"),
        ("post", "vehicles/{vehicle}/stop-charge/"),
        ("post", "vehicles/{vehicle}/refresh/"),
        ("post", "vehicles/{vehicle}/lock/?async=1"),
        ("post", "vehicles/{vehicle}/refresh/?async=1"),
        ("delete", "accounts/{account}/"),
        ("post", "connect-url/"),
    ],
)
def test_a_malformed_json_body_is_a_400_and_nothing_reaches_smartcar(
    account, browser, smartcar_requests, queued, method, path
):
    vehicle = account.vehicles.order_by("pk").first()
    locked_before = SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked
    url = f"{API}/" + path.format(vehicle=vehicle.pk, account=account.pk)

    response = getattr(browser, method)(url, data=MALFORMED_JSON, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("JSON parse error")
    assert smartcar_requests == [] and queued == []
    assert not VehicleCommand.objects.exists()
    assert SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked == locked_before
    assert SmartcarAccount.objects.get(pk=account.pk).status == SmartcarAccount.Status.ACTIVE


def test_a_well_formed_json_body_is_still_accepted(account, browser):
    vehicle = account.vehicles.order_by("pk").first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/unlock/", data={}, content_type="application/json")

    assert response.status_code == 200 and response.json()["status"] == "succeeded"

"""No page blocks on a car: with every call that reaches a car made very slow, every page and action a user or
an operator has still answers, and the calls that reach the car are made by the worker, not by the request.

The live simulator runs a latency model in which Smartcar's own endpoints (token, vehicle list, permissions,
attributes and VIN) answer at once and every read or command that reaches the car waits 60 s, far beyond the
app's request time-out here (3 s). A page that waited on a car would fail (or hang): the assertion is structural,
not about speed. What the app sent is classified by the simulator's endpoint table (a batch reaches the car
when one of its paths does), and the simulator's own request counters (``GET _simulator/requests``) show the commands
arriving only once the queued tasks run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from django_smartcar.models import SmartcarAccount
from django_smartcar.services.clients import get_transport
from django_smartcar.simulator import latency
from django_smartcar.simulator.vehicle_api import ENDPOINTS
from tests.app.conftest import connect_through_views

CAR_SECONDS = 60.0
APP_TIMEOUT = 3
API = "/api/smartcar"
VEHICLES_URL = "/admin/django_smartcar/vehicle/"
ACCOUNTS_URL = "/admin/django_smartcar/smartcaraccount/"
SLOW_CARS = "slow-cars"


@pytest.fixture
def slow_cars(smartcar, settings, monkeypatch) -> None:
    """Reads and commands that reach the car wait 60 s; Smartcar's platform answers at once."""
    car = latency.Profile(median=CAR_SECONDS, spread=0.0, low=CAR_SECONDS, high=CAR_SECONDS)
    monkeypatch.setitem(latency.MODELS, SLOW_CARS, {latency.READ: car, latency.COMMAND: car})
    settings.SMARTCAR = {**settings.SMARTCAR, "REQUEST_TIMEOUT": APP_TIMEOUT}
    settings.SMARTCAR_SIMULATOR = {
        **getattr(settings, "SMARTCAR_SIMULATOR", {}),
        "LATENCY": {"model": SLOW_CARS, "scale": 1},
    }
    yield


@pytest.fixture
def sent_classes(smartcar) -> Iterator[list[tuple[str, str, str]]]:
    """Each vehicle request the app sends, as (latency class, method, path) the way the simulator sees it."""
    sent: list[tuple[str, str, str]] = []
    prefix = urlsplit(smartcar.base_url).path + "/v2.0/vehicles/"

    def record(response, *args, **kwargs):
        request = response.request
        path = urlsplit(request.url).path
        if not path.startswith(prefix) or path == prefix.rstrip("/"):
            return
        below = path.removeprefix(prefix).partition("/")[2]
        if request.method == "POST" and below.strip("/") == "batch":
            paths = [item["path"].strip("/") for item in json.loads(request.body)["requests"]]
            reaches_car = any(ENDPOINTS[("GET", path)].reaches_car for path in paths)
            sent.append((latency.READ if reaches_car else latency.PLATFORM, request.method, below))
        else:
            sent.append((latency.classify(request.method, below), request.method, below))

    hooks = get_transport().session.hooks["response"]
    hooks.append(record)
    yield sent
    hooks.remove(record)


def commands_received(simulator, vehicle_ids: list[str]) -> Counter[str]:
    """The commands the simulator received for these vehicles, by path, from its request counters."""
    counted: Counter[str] = Counter()
    for vehicle_id in vehicle_ids:
        answer = requests.get(
            f"{simulator.base_url}/_simulator/requests",
            params={"vehicle_id": vehicle_id},
            headers={"Authorization": f"Bearer {simulator.management_token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        for row in answer.json()["requests"]:
            if latency.classify(row["method"], row["path"]) == latency.COMMAND:
                counted[row["path"].strip("/")] += row["count"]
    return counted


def admin_action(client: Client, url: str, action: str, pks: list[int]):
    response = client.post(url, {"action": action, "_selected_action": pks, "confirm": "yes"}, follow=True)
    assert response.status_code == 200, (action, response.content[:500])
    return response


def test_every_page_and_action_answers_while_the_cars_take_a_minute(
    account, browser, user, django_user_model, worker, slow_cars, sent_classes, smartcar, settings
):
    # Connect again through the pages: token exchange, vehicle list, permissions, attributes and VIN.
    callback = connect_through_views(browser)
    assert callback.status_code == 302, callback.content[:500]
    account = SmartcarAccount.objects.get(pk=account.pk)
    vehicles = list(account.vehicles.order_by("pk"))
    pks = [vehicle.pk for vehicle in vehicles]
    smartcar_ids = [vehicle.smartcar_id for vehicle in vehicles]
    assert len(vehicles) >= 2

    # The owner's pages and the REST API.
    assert browser.get("/smartcar/").status_code == 200
    assert browser.get(f"{API}/vehicles/").status_code == 200
    assert browser.get(f"{API}/vehicles/{pks[0]}/").status_code == 200
    assert browser.post(f"{API}/vehicles/{pks[0]}/refresh/").status_code == 202
    assert browser.post(f"{API}/vehicles/{pks[0]}/lock/").status_code == 202
    assert browser.post(f"{API}/vehicles/{pks[1]}/unlock/").status_code == 202
    assert browser.get(f"{API}/commands/").status_code == 200

    # The operator's admin pages and actions.
    operator = Client()
    operator.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    assert operator.get(VEHICLES_URL).status_code == 200
    admin_action(operator, VEHICLES_URL, "lock", pks)
    admin_action(operator, VEHICLES_URL, "unlock", pks)
    admin_action(operator, VEHICLES_URL, "refresh_data", pks)
    synced = admin_action(operator, ACCOUNTS_URL, "sync_vehicles", [account.pk])
    assert any("updated" in str(message) for message in synced.context["messages"])
    assert operator.get(ACCOUNTS_URL).status_code == 200

    # Every request sent so far was Smartcar's platform: nothing reached a car.
    assert sent_classes, "the pages sent nothing at all"
    assert [row for row in sent_classes if row[0] != latency.PLATFORM] == []
    assert commands_received(smartcar, smartcar_ids) == Counter()

    # The queued work reaches the cars once the worker runs it (the cars answering at once again).
    settings.SMARTCAR_SIMULATOR = {
        key: value for key, value in settings.SMARTCAR_SIMULATOR.items() if key != "LATENCY"
    }
    queued = worker()
    assert queued == 2 + 1 + 2 * len(pks) + len(pks)  # API refresh, lock, unlock; admin lock, unlock, refresh
    assert commands_received(smartcar, smartcar_ids)["security"] == 2 + 2 * len(pks)
    assert {row[0] for row in sent_classes} >= {latency.READ, latency.COMMAND}

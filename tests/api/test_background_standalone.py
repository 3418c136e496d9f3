"""No API request waits on a car, against the standalone simulator (``python -m django_smartcar.simulator``).

The app is configured against the standalone server as a project would be against Smartcar; the car is made
slow there (5 s per answer, through the control API). Locking and refreshing answer 202 having sent it nothing
(the app's requests are counted), and the queued tasks, once run, record the car's answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_smartcar import tasks
from django_smartcar.services.clients import get_transport
from django_smartcar.simulator.testing import complete_connect
from tests.api.conftest import API

SLOW_MS = 5_000


@pytest.fixture
def standalone(standalone_simulator, settings, transactional_db):
    """The app pointed at the standalone simulator (a fresh driver of its own, for this test)."""
    simulator = standalone_simulator
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "CLIENT_ID": simulator.client_id,
        "CLIENT_SECRET": simulator.client_secret,
        "REDIRECT_URI": simulator.redirect_uri,
        "CONNECT_ORIGIN": simulator.base_url,
        "AUTH_ORIGIN": f"{simulator.base_url}/oauth/token",
        "API_ORIGIN": simulator.base_url,
        "MANAGEMENT_API_ORIGIN": simulator.base_url,
        "MANAGEMENT_TOKEN": simulator.management_token,
        "REFRESH_ON_CONNECT": False,
    }
    return simulator


def control(simulator, method: str, path: str, **body: object) -> dict:
    response = requests.request(
        method,
        f"{simulator.base_url}/_simulator/{path}",
        json=body or None,
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


@pytest.fixture
def app_requests() -> Iterator[list[str]]:
    """Every HTTP request the app sends to Smartcar (here, the standalone simulator), as ``"METHOD path"``."""
    sent: list[str] = []

    def record(response, *args, **kwargs):
        sent.append(f"{response.request.method} {urlsplit(response.request.url).path}")

    hooks = get_transport().session.hooks["response"]
    hooks.append(record)
    yield sent
    hooks.remove(record)


@pytest.fixture
def captured(monkeypatch) -> list[tuple[object, tuple]]:
    published: list[tuple[object, tuple]] = []
    for task in (tasks.send_vehicle_command, tasks.refresh_vehicle_data):
        monkeypatch.setattr(task, "delay", lambda *args, _task=task: published.append((_task, args)))
    return published


def test_lock_and_refresh_answer_at_once_against_a_slow_standalone_simulator(
    standalone, browser, app_requests, captured
):
    email = f"background-{uuid.uuid4().hex[:10]}@example.com"
    (car,) = control(standalone, "POST", "seed", count=1, seed=0, email=email, make="TESLA")["vehicles"]
    connect_url = browser.get("/smartcar/connect/")["Location"]
    query = parse_qs(urlsplit(complete_connect(connect_url, email=email)).query)
    assert (
        browser.get("/smartcar/callback/", {key: values[0] for key, values in query.items()}).status_code
        == 302
    )
    (vehicle,) = browser.get(f"{API}/vehicles/").json()["results"]
    control(standalone, "POST", "faults", kind="latency", latency_ms=SLOW_MS, vehicle_id=car["id"])
    try:
        app_requests.clear()

        locked = browser.post(f"{API}/vehicles/{vehicle['id']}/lock/")
        refreshed = browser.post(f"{API}/vehicles/{vehicle['id']}/refresh/")

        assert (locked.status_code, refreshed.status_code) == (202, 202)
        assert app_requests == []  # nothing was sent to the slow car by either request
        assert browser.get(locked["Location"]).json()["status"] == "pending"
        assert browser.get(refreshed["Location"]).json()["status"] == "pending"
    finally:
        control(standalone, "DELETE", f"faults?vehicle_id={car['id']}")

    for task, args in captured:  # what the Celery worker does with the two messages
        task.apply(args=args)

    assert browser.get(locked["Location"]).json()["status"] == "succeeded"
    refresh = browser.get(refreshed["Location"]).json()
    assert refresh["status"] == "succeeded" and "security" in refresh["updated"]
    assert browser.get(f"{API}/vehicles/{vehicle['id']}/").json()["security"]["is_locked"] is True
    assert any(request.endswith("/security") for request in app_requests)  # the lock, sent by the worker

"""Fixtures for the app's tests: settings pointed at the live simulator, signed-in users, connected accounts."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.dispatch import Signal

from django_smartcar import signals, tasks
from django_smartcar.models import SmartcarAccount
from django_smartcar.simulator.testing import complete_connect

DRIVER = "driver@example.com"


@pytest.fixture
def smartcar(simulator, settings):
    """The app configured against the live simulator (the same settings a project would use)."""
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "CLIENT_ID": simulator.client_id,
        "CLIENT_SECRET": simulator.client_secret,
        "REDIRECT_URI": simulator.redirect_uri,
        "CONNECT_ORIGIN": simulator.base_url,
        "AUTH_ORIGIN": f"{simulator.base_url}/oauth/token",
        "API_ORIGIN": simulator.base_url,
        "MANAGEMENT_API_ORIGIN": simulator.base_url,
        "IAM_ORIGIN": simulator.base_url,
        "VEHICLE_API_V3_ORIGIN": simulator.base_url,
        "MANAGEMENT_API_V3_ORIGIN": simulator.base_url,
        "MANAGEMENT_TOKEN": simulator.management_token,
        "REQUEST_TIMEOUT": 10,
    }
    return simulator


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("ann", "ann@example.com", "pw")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "pw")


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def start_connect(browser, **params):
    """GET the app's connect view; return the Connect URL it redirects to."""
    response = browser.get("/smartcar/connect/", params)
    assert response.status_code == 302, response.content
    return response["Location"]


def return_to_callback(browser, final_url: str):
    """Follow the simulator's redirect back to the app's callback, as the browser would."""
    parts = urlsplit(final_url)
    return browser.get(f"{parts.path}?{parts.query}")


def connect_through_views(browser, *, email: str = DRIVER, approve: bool = True, vehicle_ids=None, **params):
    connect_url = start_connect(browser, **params)
    final_url = complete_connect(connect_url, email=email, approve=approve, vehicle_ids=vehicle_ids)
    return return_to_callback(browser, final_url)


def connect_through_service(simulator, user, *, email: str = DRIVER) -> SmartcarAccount:
    """Connect the driver's vehicles through the service, without the Connect pages.

    The simulator approves the vehicles and issues a code directly (what its Connect pages do when the driver
    clicks Allow); ``services.connect.complete_connect`` then exchanges the code, reads the vehicles and stores
    the account over real HTTP, as the callback view would. Tests about the flow itself (the views, the
    pages, the state) use ``connect_through_views`` or the browser tests instead.
    """
    from django_smartcar.conf import smartcar_settings
    from django_smartcar.services import connect as connect_service
    from django_smartcar.simulator import grants
    from django_smartcar.simulator.models import SimulatedVehicle
    from django_smartcar.simulator.tokens import issue_code

    vehicles = list(SimulatedVehicle.objects.filter(user__email=email).order_by("pk"))
    grant = grants.approve(simulator.application, vehicles[0].user, vehicles, list(smartcar_settings.SCOPE))
    code = issue_code(grant, simulator.redirect_uri)
    return connect_service.complete_connect(user, {"code": code}, redirect_uri=simulator.redirect_uri)


@pytest.fixture
def account(smartcar, browser, user) -> SmartcarAccount:
    """An account connected through the Connect service (not its pages), with the driver's vehicles synced."""
    return connect_through_service(smartcar, user)


class SignalRecorder:
    def __init__(self, signal: Signal) -> None:
        self.calls: list[dict] = []
        signal.connect(self.receive, weak=False)
        self.signal = signal

    def receive(self, sender, **kwargs):
        self.calls.append({"sender": sender, **kwargs})

    def disconnect(self) -> None:
        self.signal.disconnect(self.receive)


@pytest.fixture
def record_signal():
    """``record_signal("tokens_refreshed")`` collects that signal's sends for the rest of the test."""
    recorders = []

    def record(name: str) -> SignalRecorder:
        recorder = SignalRecorder(getattr(signals, name))
        recorders.append(recorder)
        return recorder

    yield record
    for recorder in recorders:
        recorder.disconnect()


@pytest.fixture
def worker(account, monkeypatch) -> Callable[..., int]:
    """Tasks published during the test, captured instead of sent; ``worker()`` runs them as a Celery worker
    would (eagerly, in this process) and says how many ran. It first lifts the simulator's faults (a latency
    the request was shown not to wait on), unless ``lift_faults=False``."""
    published: list[tuple[object, tuple]] = []
    for task in (tasks.send_vehicle_command, tasks.refresh_vehicle_data):
        monkeypatch.setattr(task, "delay", lambda *args, _task=task: published.append((_task, args)))

    def run(*, lift_faults: bool = True) -> int:
        from django_smartcar.simulator import faults

        if lift_faults:
            faults.clear()
        ran = 0
        while published:
            task, args = published.pop(0)
            task.apply(args=args)
            ran += 1
        return ran

    return run


@pytest.fixture
def smartcar_requests(smartcar):
    """Every HTTP request the app sends to Smartcar during the test, as ``(method, path)`` pairs."""
    from urllib.parse import urlsplit as split

    from django_smartcar.services.clients import get_transport

    sent: list[tuple[str, str]] = []

    def record(response, *args, **kwargs):
        request = response.request
        sent.append((request.method, split(request.url).path.removeprefix(split(smartcar.base_url).path)))

    hooks = get_transport().session.hooks["response"]
    hooks.append(record)
    yield sent
    hooks.remove(record)


def make_accounts(simulator, owner, count: int, *, refresh_expires_in, prefix: str = "owner"):
    """``count`` accounts with real simulator tokens, each for its own Smartcar user, expiring as asked.

    Connect is skipped (``grants.connect_vehicles``) because these tests are about what happens long after it.
    """
    from datetime import timedelta

    from django.utils import timezone

    from django_smartcar.client import get_user_id
    from django_smartcar.services.clients import get_transport
    from django_smartcar.simulator import grants, seeding

    accounts = []
    for index in range(count):
        vehicles = seeding.seed_vehicles(1, seed=index, email=f"{prefix}{index}@example.com")
        tokens = grants.connect_vehicles(simulator.application, vehicles)
        account = SmartcarAccount(
            owner=owner,
            smartcar_user_id=get_user_id(tokens["access_token"], transport=get_transport()),
            mode="simulated",
            access_expires_at=timezone.now() + timedelta(hours=2),
            refresh_expires_at=timezone.now() + refresh_expires_in,
        )
        account.access_token = tokens["access_token"]
        account.refresh_token = tokens["refresh_token"]
        account.save()
        accounts.append(account)
    return accounts

"""Fixtures for the API V3 tests: the app configured for V3 against the live simulator, and a V3 account."""

from __future__ import annotations

import pytest

from django_smartcar.models import SmartcarAccount
from django_smartcar.simulator import grants
from django_smartcar.simulator.models import SimulatedUser, SimulatedVehicle
from tests.app.conftest import (  # noqa: F401 (fixtures)
    DRIVER,
    browser,
    other_user,
    record_signal,
    smartcar,
    smartcar_requests,
    user,
)


@pytest.fixture
def v3_smartcar(smartcar, settings):  # noqa: F811
    """The ``smartcar`` fixture with new connections made through API V3 and the site's API credentials."""
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "API_VERSION": "3",
        "API_CLIENT_ID": smartcar.api_client_id,
        "API_CLIENT_SECRET": smartcar.api_client_secret,
    }
    return smartcar


def simulator_counts(method: str | None = None, path: str | None = None) -> int:
    """Requests the simulator received (``traffic``), optionally for one method and path."""
    from django_smartcar.simulator.models import RequestCount

    rows = RequestCount.objects.all()
    if method:
        rows = rows.filter(method=method)
    if path:
        rows = rows.filter(path=path)
    return sum(row.count for row in rows)


def iam_requests() -> int:
    """Application-token requests the simulator's IAM received."""
    return simulator_counts("POST", "/oauth2/token")


def approve_driver(simulator, scope=None):
    """The driver approves their seeded vehicles for the application (what Connect's Allow does): the grant,
    and the V3 connections ``/v3/connections`` lists."""
    from django_smartcar.conf import smartcar_settings

    driver = SimulatedUser.objects.get(email=DRIVER)
    vehicles = list(SimulatedVehicle.objects.filter(user=driver).order_by("pk"))
    return grants.approve(simulator.application, driver, vehicles, list(scope or smartcar_settings.SCOPE))


def v2_access_token(simulator, grant) -> str:
    """A v2 access token for the same grant (a code exchanged at the simulator): what v2 sees of the same cars."""
    from django_smartcar.services.clients import get_auth_client
    from django_smartcar.simulator.tokens import issue_code

    return get_auth_client(simulator.redirect_uri).exchange_code(issue_code(grant, simulator.redirect_uri))[
        "access_token"
    ]


def make_v3_account(simulator, owner) -> SmartcarAccount:
    """A V3 account as Connect V3 leaves it (the Smartcar user id, no tokens), its vehicles synced through the
    seam (``/v3/connections``)."""
    from django_smartcar.services.vehicles import sync_vehicles

    grant = approve_driver(simulator)
    account = SmartcarAccount.objects.create(
        owner=owner,
        smartcar_user_id=grant.user_id,
        mode="simulated",
        api_version=SmartcarAccount.ApiVersion.V3,
    )
    sync_vehicles(account)
    return account


@pytest.fixture
def v3_account(v3_smartcar, user) -> SmartcarAccount:  # noqa: F811
    return make_v3_account(v3_smartcar, user)

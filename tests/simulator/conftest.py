"""Fixtures for the simulator's tests: the project's client wired to the live simulator, a connected user,
and a clock the test controls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from django_smartcar.client import Access, AuthClient, RetryPolicy, Transport, Vehicle, get_vehicles
from django_smartcar.simulator.testing import complete_connect


@pytest.fixture
def transport(simulator):
    """A transport that never retries, so every injected fault surfaces as it is."""
    with Transport(origins=simulator.origins, timeout=10, retry=RetryPolicy(max_attempts=1)) as sending:
        yield sending


@pytest.fixture
def auth_client(simulator, transport) -> AuthClient:
    return AuthClient(
        simulator.client_id,
        simulator.client_secret,
        simulator.redirect_uri,
        mode="simulated",
        origins=simulator.origins,
        transport=transport,
    )


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@dataclass
class Connected:
    access: Access
    vehicle_ids: list[str]
    auth_client: AuthClient
    transport: object

    def vehicle(self, vehicle_id: str | None = None, unit_system: str = "metric") -> Vehicle:
        return Vehicle(
            vehicle_id or self.vehicle_ids[0],
            self.access.access_token,
            unit_system,
            transport=self.transport,
        )


def connect(auth_client: AuthClient, transport, **auth_url_options) -> Connected:
    """Connect the driver's vehicles through the simulator's pages and exchange the code."""
    final_url = complete_connect(auth_client.get_auth_url(state="s1", **auth_url_options))
    access = auth_client.exchange_code(query_of(final_url)["code"])
    vehicle_ids = get_vehicles(access.access_token, transport=transport).vehicles
    return Connected(access=access, vehicle_ids=vehicle_ids, auth_client=auth_client, transport=transport)


@pytest.fixture
def connected(auth_client, transport) -> Connected:
    """The driver's three seeded vehicles connected with every permission."""
    return connect(auth_client, transport)


class FrozenClock:
    """Stands in for ``django.utils.timezone.now`` (which the simulator's clock reads) until moved."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def frozen_clock(monkeypatch) -> FrozenClock:
    clock = FrozenClock(timezone.now())
    monkeypatch.setattr(timezone, "now", clock)
    return clock

"""Fixtures shared by the whole suite: the Smartcar simulator, live (in this process) or standalone."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from django_smartcar.simulator.models import Application, SimulatedVehicle
from django_smartcar.simulator.seeding import register_application, seed_vehicles
from tests.processes import answers, free_port, launch, stop, wait_until

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
MANAGEMENT_TOKEN = "test-management-token"
# API V3 credentials (= tests/settings.py's SMARTCAR API_CLIENT_ID / API_CLIENT_SECRET).
API_CLIENT_ID = "client_test"
API_CLIENT_SECRET = "test-api-client-secret"
DRIVER_EMAIL = "driver@example.com"
STANDALONE_START_TIMEOUT = 30.0


def make_origins(base_url: str) -> Any:
    """The client's Origins for a simulator at ``base_url`` (a plain dict if the client is not importable)."""
    values = {
        "connect": base_url,
        "auth": f"{base_url}/oauth/token",
        "api": base_url,
        "management": base_url,
        # The simulator answers API V3 on the same host: /oauth2/token and /v3/...
        "iam": base_url,
        "vehicle_v3": base_url,
        "management_v3": base_url,
    }
    try:
        from django_smartcar.client import Origins
    except ImportError:
        return values
    return Origins(**values)


@dataclass(frozen=True)
class LiveSimulator:
    base_url: str
    origins: Any
    client_id: str
    client_secret: str
    redirect_uri: str
    management_token: str
    api_client_id: str
    api_client_secret: str
    application: Application
    email: str
    vehicles: list[SimulatedVehicle]


@dataclass(frozen=True)
class StandaloneSimulator:
    base_url: str
    origins: Any
    client_id: str
    client_secret: str
    redirect_uri: str
    management_token: str
    api_client_id: str
    api_client_secret: str
    email: str
    log_path: Path


@pytest.fixture
def simulator(live_server, transactional_db) -> LiveSimulator:
    """The simulator mounted at ``/simulator/`` of pytest-django's live server, with an application and
    three seeded vehicles (electric and fuel) for driver@example.com."""
    redirect_uri = f"{live_server.url}/smartcar/callback/"
    application = register_application(
        CLIENT_ID,
        CLIENT_SECRET,
        [redirect_uri],
        management_token=MANAGEMENT_TOKEN,
        name="Test application",
        api_client_id=API_CLIENT_ID,
        api_client_secret=API_CLIENT_SECRET,
    )
    base_url = f"{live_server.url}/simulator"
    return LiveSimulator(
        base_url=base_url,
        origins=make_origins(base_url),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=redirect_uri,
        management_token=MANAGEMENT_TOKEN,
        api_client_id=API_CLIENT_ID,
        api_client_secret=API_CLIENT_SECRET,
        application=application,
        email=DRIVER_EMAIL,
        vehicles=seed_vehicles(3, seed=0, email=DRIVER_EMAIL),
    )


@pytest.fixture(scope="session")
def standalone_simulator():
    """``python -m django_smartcar.simulator`` in a subprocess on a free 127.0.0.1 port, for the session.

    Its state is shared by every test that uses it: create what a test needs rather than counting on a
    fresh simulator.
    """
    with run_standalone_simulator() as simulator:
        yield simulator


@contextlib.contextmanager
def run_standalone_simulator(
    *extra_args: str,
    vehicles: int = 3,
    management_token: str = "",
    limits: bool = False,
    traits: bool = False,
) -> Iterator[StandaloneSimulator]:
    """A standalone simulator started with ``extra_args`` (e.g. ``--latency-model smartcar``), stopped after.

    Smartcar's limits and the seeded cars' traits are off unless asked for: they are tested on their own (and a
    soak makes thousands of requests)."""
    management_token = management_token or MANAGEMENT_TOKEN
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    redirect_uri = "http://127.0.0.1:9/callback"
    with tempfile.TemporaryDirectory(prefix="standalone-simulator-") as folder:
        log_path = Path(folder) / "simulator.log"
        command = [
            sys.executable,
            "-m",
            "django_smartcar.simulator",
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--redirect-uri",
            redirect_uri,
            "--management-token",
            management_token,
            "--api-client-id",
            API_CLIENT_ID,
            "--api-client-secret",
            API_CLIENT_SECRET,
            "--vehicles",
            str(vehicles),
            "--database",
            str(Path(folder) / "simulator.sqlite3"),
            *([] if limits else ["--no-limits"]),
            *([] if traits else ["--no-traits"]),
            *extra_args,
        ]
        environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
        process = launch(command, log_path, env=environment)
        try:
            wait_until(
                lambda: answers(f"{base_url}/_simulator/health", status=200, timeout=1),
                "The standalone simulator",
                process=process,
                log_path=log_path,
                timeout=STANDALONE_START_TIMEOUT,
            )
            yield StandaloneSimulator(
                base_url=base_url,
                origins=make_origins(base_url),
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                redirect_uri=redirect_uri,
                management_token=management_token,
                api_client_id=API_CLIENT_ID,
                api_client_secret=API_CLIENT_SECRET,
                email=DRIVER_EMAIL,
                log_path=log_path,
            )
        finally:
            stop(process, timeout=10)


@pytest.fixture
def one_minute_refresh_grace(settings):
    """The in-process simulator keeps a used refresh token alive for one minute (the older documentation's
    window) instead of its default ten, for tests that move the clock past it."""
    settings.SMARTCAR_SIMULATOR = {
        **(getattr(settings, "SMARTCAR_SIMULATOR", None) or {}),
        "REFRESH_TOKEN_GRACE_SECONDS": 60,
    }


@pytest.fixture
def private_broker(tmp_path) -> Iterator[dict[str, str]]:
    """A broker queue no earlier test of this process wrote to, for tests that start worker processes.

    Earlier tests queue tasks nobody consumes (refreshes on connect, retries with a countdown), and a worker
    stopped at the end of a test hands its reserved tasks back to the queue: a new worker would work through
    that backlog before the test's own task. On the filesystem broker the test process and its children get a
    fresh folder (children through the environment the fixture returns); on Redis the process's own database
    (see tests/settings.py) is emptied.
    """
    from tests.celery_app import app, forget_broker_connections

    if not str(app.conf.broker_url).startswith("filesystem"):
        import redis

        redis.Redis.from_url(str(app.conf.broker_url)).flushdb()
        yield {}
        return
    folder = tmp_path / "broker"
    (folder / "control").mkdir(parents=True)
    previous = app.conf.broker_transport_options
    app.conf.broker_transport_options = {
        **previous,
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
    }
    forget_broker_connections()
    try:
        yield {"DJANGO_SMARTCAR_TEST_BROKER_DIR": str(folder)}
    finally:
        app.conf.broker_transport_options = previous
        forget_broker_connections()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` need row locks: they run in CI's PostgreSQL leg and are deselected (not skipped)
    on SQLite, where what they test cannot happen."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]

"""The command throttle across server processes: with a shared cache, two servers let through only the rate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.test import Client

from tests.conftest import free_port
from tests.processes import ROOT, database_url

from .conftest import API

START_TIMEOUT = 30.0
RATE = 10  # the documented default, "10/minute"
# A Redis db of its own on the machine's Redis (CI's broker is db 15); flushed by the test.
THROTTLE_REDIS = "redis://127.0.0.1:6379/13"


def start_server(port: int, log: Path) -> subprocess.Popen:
    """One gunicorn server process (one worker) on the test database, counting throttles in THROTTLE_REDIS."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_SMARTCAR_TEST_THROTTLE_REDIS": THROTTLE_REDIS,
    }
    if database_url():
        env["DATABASE_URL"] = database_url()
    with log.open("wb") as handle:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "django.core.wsgi:get_wsgi_application()",
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def wait_until_serving(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The server exited early:\n{log.read_text()[-4000:]}")
        try:
            requests.get(f"{base_url}{API}/vehicles/", timeout=5)
        except requests.RequestException:  # not listening yet, or still importing Django: try again
            time.sleep(0.2)
            continue
        return
    pytest.fail(f"The server did not start:\n{log.read_text()[-4000:]}")


@pytest.fixture
def two_servers(transactional_db, tmp_path) -> Iterator[list[str]]:
    redis.Redis.from_url(THROTTLE_REDIS).flushdb()
    servers = []
    try:
        for index in range(2):
            port = free_port()
            log = tmp_path / f"server{index}.log"
            servers.append((f"http://127.0.0.1:{port}", start_server(port, log), log))
        for base_url, process, log in servers:
            wait_until_serving(base_url, process, log)
        yield [base_url for base_url, _, _ in servers]
    finally:
        for _, process, _ in servers:
            process.terminate()
        for _, process, _ in servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        redis.Redis.from_url(THROTTLE_REDIS).flushdb()


def test_two_server_processes_together_let_through_only_the_documented_rate(two_servers, user):
    signed_in = Client()
    signed_in.force_login(user)  # a session row in the test database, which both servers read
    csrf_secret = "a" * 32
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, signed_in.cookies[settings.SESSION_COOKIE_NAME].value)
    session.cookies.set(settings.CSRF_COOKIE_NAME, csrf_secret)

    # No such vehicle: the throttle runs before the lookup, so each request counts without reaching Smartcar.
    codes = [
        session.post(
            f"{two_servers[index % 2]}{API}/vehicles/999999/lock/",
            headers={"X-CSRFToken": csrf_secret},
            timeout=10,
        ).status_code
        for index in range(3 * RATE)
    ]

    assert set(codes) <= {404, 429}, codes
    assert codes.count(404) == RATE, codes
    assert codes[:RATE] == [404] * RATE

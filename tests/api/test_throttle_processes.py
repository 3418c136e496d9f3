"""The command throttle across server processes: with a shared cache, two servers let through only the rate."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.test import Client

from tests.processes import ROOT, answers, child_env, free_port, launch, stop, wait_until

from .conftest import API

START_TIMEOUT = 30.0
RATE = 10  # the documented default, "10/minute"
# A Redis db of its own on the machine's Redis (CI's broker is db 15); flushed by the test.
THROTTLE_REDIS = "redis://127.0.0.1:6379/13"


def start_server(port: int, log: Path) -> subprocess.Popen:
    """One gunicorn server process (one worker) on the test database, counting throttles in THROTTLE_REDIS."""
    env = child_env(DJANGO_SMARTCAR_TEST_THROTTLE_REDIS=THROTTLE_REDIS)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "django.core.wsgi:get_wsgi_application()",
    ]
    return launch(command, log, cwd=ROOT, env=env)


def wait_until_serving(base_url: str, process: subprocess.Popen, log: Path) -> None:
    # Any answer will do (a refused connection: not listening yet, or still importing Django).
    wait_until(
        lambda: answers(f"{base_url}{API}/vehicles/", timeout=5),
        "The server",
        process=process,
        log_path=log,
        timeout=START_TIMEOUT,
        interval=0.2,
    )


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
        stop(*(process for _, process, _ in servers), timeout=10)
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

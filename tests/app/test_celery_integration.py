"""A real Celery worker and beat, as separate processes, rotate expiring tokens at the live simulator.

The broker is Redis when CELERY_BROKER_URL names it (CI's PostgreSQL + Redis leg) and kombu's filesystem
transport otherwise; the database is the test database, whichever it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from django_smartcar.models import SmartcarAccount

from .conftest import make_accounts

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 90


def database_url() -> str | None:
    """The test database as a DATABASE_URL for child processes (None: SQLite, found through the environment)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return None
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen, Path]:
    log = log_dir / f"{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.celery_app", *args],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return process, log


def wait_for(predicate, what: str, logs: list[Path], timeout: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    dump = "\n\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in logs)
    pytest.fail(f"Timed out waiting for {what}.\n{dump}")


def test_beat_and_worker_rotate_every_expiring_account(smartcar, user, tmp_path):
    accounts = make_accounts(smartcar, user, 5, refresh_expires_in=timedelta(hours=30))
    untouched = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=45), prefix="later")[0]
    old_tokens = {account.pk: account.refresh_token_encrypted for account in accounts}

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "SMARTCAR_CONNECT_ORIGIN": smartcar.base_url,
        "SMARTCAR_AUTH_ORIGIN": f"{smartcar.base_url}/oauth/token",
        "SMARTCAR_API_ORIGIN": smartcar.base_url,
        "SMARTCAR_MANAGEMENT_API_ORIGIN": smartcar.base_url,
        "DJANGO_SMARTCAR_TEST_BEAT_SECONDS": "1",
    }
    if database_url():
        env["DATABASE_URL"] = database_url()

    worker, worker_log = start(
        "worker",
        [
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--without-mingle",
            "--without-gossip",
            "--purge",
            "--loglevel",
            "INFO",
        ],
        env,
        tmp_path,
    )
    beat = None
    logs = [worker_log]
    try:
        wait_for(lambda: "ready." in worker_log.read_text(), "the worker to start", logs, timeout=60)
        beat, beat_log = start(
            "beat",
            ["beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"],
            env,
            tmp_path,
        )
        logs.append(beat_log)

        soon = timezone.now() + timedelta(days=59)
        wait_for(
            lambda: (
                SmartcarAccount.objects.filter(pk__in=old_tokens, refresh_expires_at__gt=soon).count() == 5
            ),
            "beat and worker to rotate all five accounts",
            logs,
        )
    finally:
        for process in (beat, worker):
            if process is not None:
                process.terminate()
        for process in (beat, worker):
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    for account in SmartcarAccount.objects.filter(pk__in=old_tokens):
        assert account.status == SmartcarAccount.Status.ACTIVE
        assert account.refresh_token_encrypted != old_tokens[account.pk]
        # The stored token is the live one: Smartcar accepts it.
        assert account.refresh_token
    untouched_before = untouched.refresh_expires_at
    untouched.refresh_from_db()
    assert untouched.refresh_expires_at == untouched_before
    assert "rotate_account_tokens" in worker_log.read_text()

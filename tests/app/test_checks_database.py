"""Database system checks on databases that are new, half-migrated or unreachable, run as a site runs them.

Django runs the database-tagged checks before ``migrate`` applies anything, so a check that reads a table a
pending migration creates would stop every new site at its first ``manage.py migrate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from django_smartcar.checks import DECRYPT_CHECK_SECONDS

ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 120


def run_django(
    database_url: str, *arguments: str, settings_module: str = "tests.settings"
) -> subprocess.CompletedProcess:
    """``python -m django <arguments>`` in a child process on ``database_url``, with system checks on."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "django", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def postgres_server_url() -> str:
    """The PostgreSQL server of the suite's own database when the suite runs on one, else the local server."""
    if connection.vendor == "postgresql":
        parameters = connection.settings_dict
        password = f":{parameters['PASSWORD']}" if parameters.get("PASSWORD") else ""
        return (
            f"postgres://{parameters.get('USER') or 'postgres'}{password}@{parameters.get('HOST') or '127.0.0.1'}"
            f":{parameters.get('PORT') or 5432}"
        )
    return "postgres://postgres@127.0.0.1:5432"


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A brand-new, empty PostgreSQL database, dropped afterwards."""
    server = postgres_server_url()
    name = f"smartcar_fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


def assert_succeeds(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("database", ["fresh_sqlite_url", "fresh_postgres_url"])
def test_migrate_with_checks_on_a_brand_new_database(request, database):
    database_url = request.getfixturevalue(database)

    # Before anything is migrated: the database checks run first and must not crash for want of a table.
    assert_succeeds(run_django(database_url, "check", "--database", "default"))
    migrated = run_django(database_url, "migrate", "--noinput")
    assert_succeeds(migrated)
    assert "Applying django_smartcar.0001_initial... OK" in migrated.stdout
    # After migrating, the checks read the (empty) table and still pass.
    assert_succeeds(run_django(database_url, "check", "--database", "default"))


def test_migrate_with_checks_on_a_half_migrated_database(fresh_sqlite_url):
    # The app's first migration applied, the rest pending: the check skips quietly, then migrate finishes.
    assert_succeeds(run_django(fresh_sqlite_url, "migrate", "--noinput", "django_smartcar", "0001"))
    assert_succeeds(run_django(fresh_sqlite_url, "check", "--database", "default"))
    assert_succeeds(run_django(fresh_sqlite_url, "migrate", "--noinput"))


def test_the_example_project_migrates_a_brand_new_database(tmp_path):
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'example.sqlite3'}",
        "VAR_DIR": str(tmp_path),
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT / "example_project",
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert_succeeds(result)


def test_a_database_error_in_the_check_is_a_warning_not_a_crash(fresh_postgres_url):
    # A role that may connect but not read the accounts table: the check's query fails with a DatabaseError.
    assert_succeeds(run_django(fresh_postgres_url, "migrate", "--noinput"))
    role = f"smartcar_reader_{uuid.uuid4().hex[:8]}"
    server, name = fresh_postgres_url.rsplit("/", 1)
    with psycopg.connect(fresh_postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"REVOKE SELECT ON django_smartcar_smartcaraccount FROM {role}")
    try:
        restricted_url = fresh_postgres_url.replace("://postgres", f"://{role}", 1)
        result = run_django(restricted_url, "check", "--database", "default")
        assert_succeeds(result)
        assert "django_smartcar.W002" in result.stderr
        assert "InsufficientPrivilege" in result.stderr
    finally:
        with psycopg.connect(fresh_postgres_url, autocommit=True) as admin:
            admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_locked_accounts_table_makes_the_check_give_up_in_time(fresh_postgres_url):
    # Another session holds the accounts table (a long migration, a VACUUM FULL): the check must not hang.
    assert_succeeds(run_django(fresh_postgres_url, "migrate", "--noinput"))
    with psycopg.connect(fresh_postgres_url) as holder:
        holder.execute("LOCK TABLE django_smartcar_smartcaraccount IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = run_django(fresh_postgres_url, "check", "--database", "default")
        elapsed = time.monotonic() - started
        # The lock was still held when the check finished: the check gave up rather than waited for it.
        assert holder.execute("SELECT count(*) FROM django_smartcar_smartcaraccount").fetchone() == (0,)
    assert_succeeds(result)
    assert "django_smartcar.W002" in result.stderr and "QueryCanceled" in result.stderr
    assert elapsed < DECRYPT_CHECK_SECONDS + 20  # the time limit, plus the child process's start-up

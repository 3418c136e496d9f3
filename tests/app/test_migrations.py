"""One initial migration creates the first release's schema (the pre-release migrations were squashed into it),
later migrations add to it, and a database that applied the eight pre-release migrations from a clone is at
``0001_initial`` and only needs the later ones."""

from __future__ import annotations

import re
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader

from tests.app.test_checks_database import assert_succeeds, run_django

APP_MIGRATIONS = [
    "0001_initial",
    "0002_vehicle_webhook_errors",
    "0003_vehicle_refresh",
    "0004_api_v3",
    "0005_request_budget",
]
PRE_RELEASE_SCHEMA = Path(__file__).with_name("pre_release_schema.sql")
PRE_RELEASE_MIGRATIONS = (
    "0001_initial",
    "0002_rotation_queued_at",
    "0003_webhook_event",
    "0004_command_retry_after",
    "0005_tokens_exchange_started_at",
    "0006_vehicle_percents_and_last_command",
    "0007_vehicle_percents_data",
    "0008_vehicle_not_capable",
)


def app_schema(path: Path) -> dict[str, object]:
    """The django_smartcar tables of a SQLite file, column order aside: columns (name, type, null, default,
    primary key), foreign keys, indexes (with their columns and uniqueness) and the full CREATE statements'
    CHECK and UNIQUE clauses."""
    with sqlite3.connect(path) as database:
        tables = [
            name
            for (name,) in database.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'django_smartcar_%'"
            )
        ]
        schema: dict[str, object] = {}
        for table in tables:
            columns = {row[1:] for row in database.execute(f'PRAGMA table_info("{table}")')}
            foreign_keys = {row[2:5] for row in database.execute(f'PRAGMA foreign_key_list("{table}")')}
            indexes = set()
            for _seq, name, unique, origin, _partial in database.execute(f'PRAGMA index_list("{table}")'):
                indexed = tuple(row[2] for row in database.execute(f'PRAGMA index_info("{name}")'))
                # SQLite names the indexes behind UNIQUE clauses itself (sqlite_autoindex_<table>_<n>).
                indexes.add((None if name.startswith("sqlite_autoindex") else name, unique, origin, indexed))
            schema[table] = (columns, foreign_keys, indexes)
        return schema


@pytest.mark.django_db
def test_the_app_migrations_match_the_models():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert sorted(name for app, name in loader.disk_migrations if app == "django_smartcar") == APP_MIGRATIONS
    assert sorted(name for app, name in loader.disk_migrations if app == "smartcar_simulator") == [
        "0001_initial",
        "0002_request_counts",
        "0003_webhook_redelivery",
        "0004_catalogue_and_limits",
        "0005_connected_services_account_fault",
        "0006_api_v3",
        "0007_management_v3",
    ]
    output = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=output)  # exits with 1 on a difference
    assert "No changes detected" in output.getvalue()


def test_a_new_database_is_created_by_the_initial_migration_and_the_later_ones(tmp_path):
    database = tmp_path / "new.sqlite3"
    migrated = run_django(f"sqlite:///{database}", "migrate", "--noinput")
    assert_succeeds(migrated)
    applied = [line for line in migrated.stdout.splitlines() if "Applying django_smartcar." in line]
    assert applied == [f"  Applying django_smartcar.{name}... OK" for name in APP_MIGRATIONS]
    assert set(app_schema(database)) == {
        "django_smartcar_applicationtoken",
        "django_smartcar_apprequestbucket",
        "django_smartcar_vehiclerequestusage",
        "django_smartcar_connectstate",
        "django_smartcar_smartcaraccount",
        "django_smartcar_vehicle",
        "django_smartcar_vehiclecommand",
        "django_smartcar_vehiclerefresh",
        "django_smartcar_vehiclesignal",
        "django_smartcar_webhookevent",
    }


def pre_release_database(path: Path, stopped_after: str = PRE_RELEASE_MIGRATIONS[-1]) -> str:
    """A SQLite database as a clone's ``migrate`` left it before the squash, up to ``stopped_after``: Django's
    own tables migrated, the app's tables and migration records as the pre-release migrations made them."""
    url = f"sqlite:///{path}"
    assert_succeeds(run_django(url, "migrate", "--noinput"))
    applied = PRE_RELEASE_MIGRATIONS[: PRE_RELEASE_MIGRATIONS.index(stopped_after) + 1]
    schema = PRE_RELEASE_SCHEMA.read_text()
    if "0006_vehicle_percents_and_last_command" not in applied:
        schema = re.sub(r', "last_command_id" [^,]*DEFERRABLE INITIALLY DEFERRED', "", schema)
        schema = "\n".join(line for line in schema.splitlines() if "vehicle_last_command_id" not in line)
    if "0008_vehicle_not_capable" not in applied:
        schema = re.sub(
            r', "not_capable" text NOT NULL CHECK \(\(JSON_VALID\("not_capable"\)[^)]*\)\)', "", schema
        )
    assert applied == PRE_RELEASE_MIGRATIONS or schema != PRE_RELEASE_SCHEMA.read_text()
    with sqlite3.connect(path) as database:
        for (table,) in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'django_smartcar_%'"
        ).fetchall():
            database.execute(f'DROP TABLE "{table}"')
        database.executescript(schema)
        database.execute("DELETE FROM django_migrations WHERE app = 'django_smartcar'")
        database.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('django_smartcar', ?, '2026-11-30')",
            [(name,) for name in applied],
        )
    return url


def test_a_database_migrated_before_the_squash_is_at_the_initial_migration_and_gets_only_the_later_ones(
    tmp_path,
):
    initial = tmp_path / "initial.sqlite3"
    assert_succeeds(
        run_django(f"sqlite:///{initial}", "migrate", "django_smartcar", "0001_initial", "--noinput")
    )
    new = tmp_path / "new.sqlite3"
    assert_succeeds(run_django(f"sqlite:///{new}", "migrate", "--noinput"))
    old = tmp_path / "old.sqlite3"
    old_url = pre_release_database(old)

    assert app_schema(old) == app_schema(initial)
    migrated = run_django(old_url, "migrate", "--noinput")
    assert_succeeds(migrated)
    applied = [line for line in migrated.stdout.splitlines() if "Applying django_smartcar." in line]
    assert applied == [f"  Applying django_smartcar.{name}... OK" for name in APP_MIGRATIONS[1:]]
    assert app_schema(old) == app_schema(new)
    plan = run_django(old_url, "showmigrations", "django_smartcar")
    assert_succeeds(plan)
    assert plan.stdout.split() == [
        "django_smartcar",
        *[word for name in APP_MIGRATIONS for word in ("[X]", name)],
    ]
    assert_succeeds(
        run_django(f"sqlite:///{old}", "check", "--database", "default", "--fail-level", "WARNING")
    )


@pytest.mark.parametrize(
    ("stopped_after", "unapplied"),
    [
        (
            "0005_tokens_exchange_started_at",
            "0006_vehicle_percents_and_last_command, 0008_vehicle_not_capable",
        ),
        ("0006_vehicle_percents_and_last_command", "0007_vehicle_percents_data, 0008_vehicle_not_capable"),
    ],
)
def test_a_database_that_stopped_part_way_before_the_squash_is_refused_with_what_to_do(
    tmp_path, stopped_after, unapplied
):
    # Without the check, migrate would find 0001_initial applied, say nothing to apply, and the site would fail
    # on the missing columns at its first request.
    old = pre_release_database(tmp_path / "old.sqlite3", stopped_after)
    for command in (["migrate", "--noinput"], ["check", "--database", "default"]):
        refused = run_django(old, *command)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert "django_smartcar.E015" in refused.stderr
        assert f"({unapplied} not applied)" in refused.stderr
        assert "manage.py migrate django_smartcar 0008" in refused.stderr

"""One initial migration creates the whole schema (the pre-release migrations were squashed into it), and a
database that applied the eight pre-release migrations from a clone is already up to date."""

from __future__ import annotations

import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader

from tests.app.test_checks_database import assert_succeeds, run_django

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
def test_the_app_has_one_migration_and_it_matches_the_models():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert [name for app, name in loader.disk_migrations if app == "django_smartcar"] == ["0001_initial"]
    assert [name for app, name in loader.disk_migrations if app == "smartcar_simulator"] == ["0001_initial"]
    output = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=output)  # exits with 1 on a difference
    assert "No changes detected" in output.getvalue()


def test_a_new_database_is_created_by_the_one_initial_migration(tmp_path):
    database = tmp_path / "new.sqlite3"
    migrated = run_django(f"sqlite:///{database}", "migrate", "--noinput")
    assert_succeeds(migrated)
    applied = [line for line in migrated.stdout.splitlines() if "Applying django_smartcar." in line]
    assert applied == ["  Applying django_smartcar.0001_initial... OK"]
    assert set(app_schema(database)) == {
        "django_smartcar_connectstate",
        "django_smartcar_smartcaraccount",
        "django_smartcar_vehicle",
        "django_smartcar_vehiclecommand",
        "django_smartcar_webhookevent",
    }


def test_a_database_migrated_before_the_squash_has_the_same_schema_and_nothing_to_apply(tmp_path):
    new, old = tmp_path / "new.sqlite3", tmp_path / "old.sqlite3"
    for database in (new, old):
        assert_succeeds(run_django(f"sqlite:///{database}", "migrate", "--noinput"))
    # The old database: the app's tables as the eight pre-release migrations made them, and their records.
    with sqlite3.connect(old) as database:
        for (table,) in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'django_smartcar_%'"
        ).fetchall():
            database.execute(f'DROP TABLE "{table}"')
        database.executescript(PRE_RELEASE_SCHEMA.read_text())
        database.execute("DELETE FROM django_migrations WHERE app = 'django_smartcar'")
        database.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('django_smartcar', ?, '2026-11-30')",
            [(name,) for name in PRE_RELEASE_MIGRATIONS],
        )

    assert app_schema(old) == app_schema(new)
    migrated = run_django(f"sqlite:///{old}", "migrate", "--noinput")
    assert_succeeds(migrated)
    assert "No migrations to apply." in migrated.stdout
    plan = run_django(f"sqlite:///{old}", "showmigrations", "django_smartcar")
    assert_succeeds(plan)
    assert plan.stdout.split() == ["django_smartcar", "[X]", "0001_initial"]
    assert_succeeds(
        run_django(f"sqlite:///{old}", "check", "--database", "default", "--fail-level", "WARNING")
    )

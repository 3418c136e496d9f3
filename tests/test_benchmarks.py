"""``python -m benchmarks --size tiny``: every benchmark runs end to end and the app's counts hold.

The tiny run's speeds and ratios mean nothing and are not judged; what a user relies on is: one token request
per rotated account, one HTTP request per vehicle refresh, no account lost, every API and webhook request
answered, constant SQL queries, every event stored, one V3 application token request per site (and per lifetime
when renewed). The database and broker follow the suite's environment (SQLite and kombu's filesystem transport,
or PostgreSQL and Redis).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

# Starts Celery worker processes: make test runs these one at a time, after the rest (see pyproject.toml).
pytestmark = pytest.mark.worker_processes

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300

EXPECTED_ROWS = [
    "App: beat fan-out to chunk tasks + Celery worker (16 threads)",
    "Official package, sequential loop",
    "Speed-up, app / loop",
    "SQL queries per account, app / loop",
    "Token requests per account, app / loop",
    "Accounts lost (stored refresh token refused), app / loop",
    "App worker's peak memory (RSS)",
    "Machine CPU per rotated account",
    "App: one batch per vehicle, Celery worker (16 threads)",
    "Official package, one request per data point",
    "Official package, its batch call in a loop",
    "HTTP requests per vehicle, app / per data point / batch loop",
    "Wall-time ratio, per-data-point loop / app",
    "Wall-time ratio, batch loop / app",
    "GET list, user with 1 vehicle",
    "GET detail, user with 1 vehicle",
    "GET list, user with 20 vehicles",
    "GET detail, user with 20 vehicles",
    "SQL queries per list request",
    "SQL queries per detail request",
    "Receiver: signed events accepted and stored",
    "Bare Django view, same events",
    "Throughput ratio, bare view / receiver",
    "p99 latency ratio, receiver / bare view",
    "Events stored / accepted (warm-up included)",
    "Dispatcher (beat task, in the worker): stored events processed",
    "Scaled read latency (Smartcar's model",
    "Threads: a task per vehicle, 16 worker threads",
    "Bulk: asyncio in the task, 400 in flight, 1 worker process",
    "Speed-up, bulk / threads, same latency, same run",
    "Bulk: asyncio in the task, 400 in flight, 2 worker processes",
    "Bulk worker's peak memory (RSS)",
    "Smartcar's default bucket (120, +2/min) at both ends",
    "Fleet and virtual month",
    "Billed requests per vehicle-month",
    "Vehicles over budget",
    "App's ledger == simulator's billing",
    "Requests per vehicle-month vs an hourly poll",
    "Data age at p95",
    "Vehicles whose polling share ran out",
    "Reads by what they said of the car",
    "Wall time of the virtual month",
    "IAM token requests in ",
    "V3 work on that token",
    "Renewal across ",
]


def bench_database_url(tmp_path: Path) -> str:
    """A database of the suite's kind, of the benchmarks' own: the run drops and creates it."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{tmp_path / 'benchmarks.sqlite3'}"
    user = database.get("USER") or ""
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, port = database.get("HOST") or "127.0.0.1", database.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{database['NAME']}_benchmarks"


def table_rows(markdown: str) -> dict[str, tuple[str, str, str]]:
    """``{measure: (result, target, met)}`` from the results table."""
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("Benchmark", "---"):
            rows[cells[1]] = (cells[2], cells[3], cells[4])
    return rows


def find(rows: dict[str, tuple[str, str, str]], prefix: str) -> tuple[str, str, str]:
    matches = [row for measure, row in rows.items() if measure.startswith(prefix)]
    assert len(matches) == 1, f"expected one row starting {prefix!r} in {sorted(rows)}"
    return matches[0]


def test_tiny_benchmark_run_prints_every_row_and_the_apps_counts_hold(tmp_path):
    output = tmp_path / "results.md"
    broker = settings.CELERY_BROKER_URL
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--size",
            "tiny",
            "--output",
            str(output),
            "--database-url",
            bench_database_url(tmp_path),
            "--broker-url",
            broker,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert finished.returncode == 0, f"{finished.stdout[-3000:]}\n{finished.stderr[-6000:]}"

    markdown = output.read_text()
    assert "- Machine: " in markdown and "Python " in markdown and "Django " in markdown
    rows = table_rows(markdown)
    for prefix in EXPECTED_ROWS:
        find(rows, prefix)
    # The table printed is the one written.
    assert table_rows(finished.stdout) == rows

    assert find(rows, "Token requests per account")[0] == "1.00 / 1.00"
    assert find(rows, "Token requests per account")[2] == "yes"
    assert find(rows, "Accounts lost")[0] == "0 / 0"
    assert find(rows, "HTTP requests per vehicle")[0] == "1.00 / 9.00 / 1.00"
    for prefix in ("GET list", "GET detail", "SQL queries per list", "SQL queries per detail"):
        for measure, (_, _, met) in rows.items():
            if measure.startswith(prefix):
                assert met == "yes", (measure, rows[measure])
    assert find(rows, "Receiver: signed events accepted")[2] == "yes"
    assert find(rows, "Events stored / accepted")[2] == "yes"
    # The production path: the dispatcher processed every stored event, none failed.
    assert find(rows, "Dispatcher (beat task, in the worker)")[2] == "yes"
    # The scheduler paced itself under Smartcar's default bucket: Smartcar never had to refuse a request.
    assert find(rows, "Smartcar's default bucket")[2] == "yes"
    # Two virtual days of benchmark 6: nothing over budget, no 430, the app's ledger is Smartcar's billing.
    for prefix in ("Billed requests per vehicle-month", "Vehicles over budget", "App's ledger =="):
        assert find(rows, prefix)[2] == "yes", find(rows, prefix)
    # One V3 application token for the site, whatever the number of processes; renewed once per lifetime.
    assert find(rows, "IAM token requests in ")[:3:2] == ("1 / 1", "yes")
    assert find(rows, "V3 work on that token")[2] == "yes"
    assert find(rows, "Renewal across ")[2] == "yes"


def test_the_webhook_benchmark_runs_alone_on_the_production_path(tmp_path):
    """``--only webhooks``: benchmark 4's rows only, and the dispatcher processed everything the receiver stored."""
    output = tmp_path / "results.md"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--size",
            "tiny",
            "--only",
            "webhooks",
            "--output",
            str(output),
            "--database-url",
            bench_database_url(tmp_path),
            "--broker-url",
            settings.CELERY_BROKER_URL,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert finished.returncode == 0, f"{finished.stdout[-3000:]}\n{finished.stderr[-6000:]}"
    rows = table_rows(output.read_text())
    webhook_rows = EXPECTED_ROWS[
        EXPECTED_ROWS.index("Receiver: signed events accepted and stored") : EXPECTED_ROWS.index(
            "Dispatcher (beat task, in the worker): stored events processed"
        )
        + 1
    ]
    diagnostics = ["One event through Django's test client"]
    if not bench_database_url(tmp_path).startswith("sqlite"):
        diagnostics.append("Receiver with PostgreSQL's synchronous_commit off")
    assert len(rows) == len(webhook_rows) + len(diagnostics), sorted(rows)
    for prefix in [*webhook_rows, *diagnostics]:
        find(rows, prefix)
    assert find(rows, "Receiver: signed events accepted")[2] == "yes"
    assert find(rows, "Events stored / accepted")[2] == "yes"
    assert find(rows, "Dispatcher (beat task, in the worker)")[2] == "yes"
    assert "WEBHOOK_DISPATCH_INTERVAL` 2 s" in output.read_text()

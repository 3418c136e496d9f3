"""``python -m benchmarks``: every benchmark in one run, one table, ``results.md``.

    python -m benchmarks [--size full|tiny] [--output benchmarks/results.md]
        [--database-url postgres://postgres@127.0.0.1:5432/django_smartcar_bench]
        [--broker-url redis://127.0.0.1:6379/11] [--only webhooks] [--webhook-dispatch-interval 2|none]

The database named by ``--database-url`` is dropped and created again. Everything else (the simulator, gunicorn,
the Celery worker, the load generator) is started here on 127.0.0.1 and stopped before the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import environ

from . import simulator as simulator_module
from .network import free_port
from .report import progress
from .simulator import Simulator
from .sizes import SIZES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/django_smartcar_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/11"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="the app's database, dropped and created again (PostgreSQL, or sqlite:////path)",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL),
        help="Celery broker (its default queue is purged); filesystem:// needs no server",
    )
    parser.add_argument(
        "--only",
        choices=["webhooks"],
        help="run one benchmark (its rows and notes only; the other benchmarks' servers are not started)",
    )
    parser.add_argument(
        "--webhook-dispatch-interval",
        default=os.environ.get("BENCH_WEBHOOK_DISPATCH_INTERVAL", "2"),
        help='the app\'s WEBHOOK_DISPATCH_INTERVAL in seconds (the production default, 2), or "none": the '
        "receiver then queues one Celery task per event, as before the dispatcher",
    )
    args = parser.parse_args(argv)
    if args.webhook_dispatch_interval.lower() != "none":
        try:
            if float(args.webhook_dispatch_interval) <= 0:
                raise ValueError
        except ValueError:
            parser.error('--webhook-dispatch-interval must be a positive number of seconds or "none"')
    return args


def recreate_database(url: str) -> None:
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        path = Path(config["NAME"])
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        # Where the app's token service keeps its SQLite lock files.
        shutil.rmtree(f"{path}.smartcar-locks", ignore_errors=True)
        return
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit(f"--database-url must be PostgreSQL or SQLite, not {config['ENGINE']}")
    import psycopg
    from psycopg import sql

    try:
        server = psycopg.connect(
            host=config.get("HOST") or "127.0.0.1",
            port=config.get("PORT") or 5432,
            user=config.get("USER") or None,
            password=config.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL is not reachable for {config['NAME']!r}: {exc}") from None
    with server:
        name = sql.Identifier(config["NAME"])
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        server.execute(sql.SQL("CREATE DATABASE {}").format(name))


def check_broker(url: str) -> None:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        raise SystemExit(f"The Celery broker {url} is not reachable: {exc}") from None


def configure(args: argparse.Namespace, simulator: Simulator, folder: Path) -> None:
    """Point Django, Celery, the app and the official package (which reads these on import) at this run."""
    broker_folder = folder / "broker"
    broker_folder.mkdir()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "BENCH_DATABASE_URL": args.database_url,
            "CELERY_BROKER_URL": args.broker_url,
            "BENCH_BROKER_FOLDER": str(broker_folder),
            "BENCH_WEBHOOK_DISPATCH_INTERVAL": args.webhook_dispatch_interval,
            **simulator.origins,
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Leave through SystemExit so that every server started so far is stopped on the way out.
    raise SystemExit(f"Stopped by signal {signum}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    size = SIZES[args.size]
    started = time.perf_counter()
    if args.broker_url != "filesystem://":
        check_broker(args.broker_url)
    recreate_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="django-smartcar-bench-") as name:
        folder = Path(name)
        simulator = Simulator(folder / "simulator.sqlite3", free_port(), folder / "simulator.log")
        configure(args, simulator, folder)
        if args.only == "webhooks":
            # The receiver talks to no Smartcar: no simulator, no seeding.
            from .suite import run_webhooks_only

            outcome = run_webhooks_only(size, folder)
        else:
            progress(f"Seeding the simulator with {size.owners:,} connected owners")
            owners = simulator_module.seed(simulator.database, size.owners)
            with simulator:
                # Imported once Django is set up: the benchmarks import the app's models.
                from .suite import run_all

                outcome = run_all(simulator, owners, size, folder)
        from .report import table, write_results

        write_results(args.output, outcome.rows, setup=outcome.setup, notes=outcome.notes)
    print(table(outcome.rows))
    for note in outcome.notes:
        print(f"\n{note}")
    print(f"\nWritten to {args.output} in {time.perf_counter() - started:.0f} s.")

"""Prepare the standalone simulator's database before it starts: the application and connected owners.

Run as ``python -m benchmarks.simulator_seed --database FILE --owners N --output FILE``, in its own process
because it configures Django the way the standalone simulator does. Each owner gets one vehicle, connected to
the application with every permission, and their fresh tokens are written to ``--output`` as JSON. Connect is
skipped (``grants.connect_vehicles``): thousands of owners through its HTML pages would take minutes and is not
what is measured.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from .credentials import CLIENT_ID, CLIENT_SECRET, MANAGEMENT_TOKEN, REDIRECT_URI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulator_seed")
    parser.add_argument("--database", type=Path, required=True, help="the simulator's SQLite file to create")
    parser.add_argument("--owners", type=int, required=True, help="owners to connect, one vehicle each")
    parser.add_argument("--output", type=Path, required=True, help="JSON file for the owners' tokens")
    parser.add_argument("--first", type=int, default=0, help="index of the first owner (default: 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    from django_smartcar.simulator.standalone import configure

    configure(args.database, {"LATENCY_MS": 0, "SEED_TRAITS": False})

    import django
    from django.core.management import call_command
    from django.db import connection, transaction

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        # Persistent in the file: the simulator's readers then never wait for its one writer.
        cursor.execute("PRAGMA journal_mode=WAL")

    from django_smartcar.simulator.grants import connect_vehicles
    from django_smartcar.simulator.seeding import register_application, seed_vehicles

    owners = []
    with transaction.atomic():
        application = register_application(
            CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], management_token=MANAGEMENT_TOKEN, name="Benchmarks"
        )
        for index in range(args.first, args.first + args.owners):
            (vehicle,) = seed_vehicles(1, seed=index, email=f"owner{index}@bench.example")
            tokens = connect_vehicles(application, [vehicle])
            owners.append(
                {
                    "user_id": vehicle.user_id,
                    "vehicle_id": vehicle.id,
                    "access_token": tokens["access_token"],
                    "refresh_token": tokens["refresh_token"],
                }
            )
    args.output.write_text(json.dumps(owners))


if __name__ == "__main__":
    main()

"""``manage.py smartcar_simulator_seed``: seed simulated vehicles, and optionally register an application."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import Application
from ...seeding import MAKES, register_application, seed_vehicles


class Command(BaseCommand):
    help = (
        "Create simulated vehicles for an owner (the same ones for the same seed), and register or update a "
        "Smartcar application in the simulator when --client-secret is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--vehicles", type=int, default=3, help="how many vehicles (default: 3)")
        parser.add_argument("--seed", type=int, default=0, help="seed for the vehicles (default: 0)")
        parser.add_argument("--email", default="driver@example.com", help="the owner's email")
        parser.add_argument("--make", choices=MAKES, help="only vehicles of this make")
        parser.add_argument("--client-id", help="connect the vehicles to this application")
        parser.add_argument("--client-secret", help="register the application with this secret")
        parser.add_argument(
            "--redirect-uri", action="append", default=[], help="its redirect URI (repeatable)"
        )
        parser.add_argument("--management-token", help="its management token (default: generated)")
        parser.add_argument(
            "--api-client-id", help="its API V3 client id (client_...), for application tokens"
        )
        parser.add_argument("--api-client-secret", help="its API V3 client secret")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["vehicles"] < 0:
            raise CommandError("--vehicles must not be negative")
        application = None
        if options["client_secret"]:
            if not options["client_id"] or not options["redirect_uri"]:
                raise CommandError("Registering an application needs --client-id and --redirect-uri too")
            if bool(options["api_client_id"]) != bool(options["api_client_secret"]):
                raise CommandError("Give --api-client-id and --api-client-secret together")
            application = register_application(
                options["client_id"],
                options["client_secret"],
                options["redirect_uri"],
                management_token=options["management_token"],
                api_client_id=options["api_client_id"] or None,
                api_client_secret=options["api_client_secret"] or None,
            )
            self.stdout.write(f"Registered {application}")
        elif options["client_id"]:
            application = Application.objects.filter(client_id=options["client_id"]).first()
            if application is None:
                raise CommandError(
                    f"No application {options['client_id']!r}; add --client-secret to register it"
                )
        vehicles = seed_vehicles(
            options["vehicles"],
            seed=options["seed"],
            email=options["email"],
            make=options["make"],
            application=application,
        )
        for vehicle in vehicles:
            kind = vehicle.get_powertrain_display().lower()
            if vehicle.data_age_hours:
                kind += f", data {vehicle.data_age_hours:g} h old"
            if vehicle.awake_minutes and vehicle.asleep_minutes:
                kind += f", sleeps {vehicle.asleep_minutes} min of every {vehicle.awake_minutes + vehicle.asleep_minutes}"
            self.stdout.write(f"{options['email']}: {vehicle} [{kind}] id={vehicle.id}")

"""Sync vehicle lists and refresh vehicle data, for operators and for sites that run cron instead of beat."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import client
from ...exceptions import DjangoSmartcarError
from ...models import USABLE_STATUSES, SmartcarAccount, Vehicle
from ...services import vehicles
from ..progress import Tally


class Command(BaseCommand):
    help = "Sync Smartcar accounts' vehicle lists and refresh their vehicles' data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", type=int, action="append", metavar="ID", help="Only this account (repeatable)."
        )
        parser.add_argument(
            "--vehicle",
            type=int,
            action="append",
            metavar="ID",
            help="Only refresh this vehicle's data (repeatable); no vehicle list sync.",
        )
        parser.add_argument(
            "--skip-data", action="store_true", help="Sync vehicle lists only, fetch no vehicle data."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be synced; change nothing."
        )
        parser.add_argument(
            "--fail-on-error", action="store_true", help="Exit with status 1 if anything failed."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["vehicle"]:
            vehicle_qs = Vehicle.objects.filter(pk__in=options["vehicle"])
            missing = set(options["vehicle"]) - set(vehicle_qs.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No vehicle with id {', '.join(map(str, sorted(missing)))}.")
            accounts = SmartcarAccount.objects.none()
        else:
            accounts = SmartcarAccount.objects.filter(status__in=USABLE_STATUSES).order_by("pk")
            if options["account"]:
                accounts = SmartcarAccount.objects.filter(pk__in=options["account"]).order_by("pk")
                missing = set(options["account"]) - set(accounts.values_list("pk", flat=True))
                if missing:
                    raise CommandError(f"No Smartcar account with id {', '.join(map(str, sorted(missing)))}.")
            vehicle_qs = Vehicle.objects.filter(account__in=accounts)

        tally = Tally(self.stdout, self.stderr)
        for account in accounts.iterator():
            if options["dry_run"]:
                self.stdout.write(f"would sync account {account.pk}")
                tally.add("would sync")
                continue
            try:
                synced = vehicles.sync_vehicles(account)
            except (client.SmartcarException, DjangoSmartcarError) as exc:
                tally.fail(f"account {account.pk}", str(exc))
            else:
                tally.add("accounts synced")
                tally.counts["vehicles added"] += len(synced.created)
                tally.counts["vehicles disconnected"] += len(synced.disconnected)

        if not options["skip_data"]:
            for vehicle in (
                vehicle_qs.filter(is_connected=True).select_related("account").order_by("pk").iterator()
            ):
                if options["dry_run"]:
                    self.stdout.write(f"would refresh vehicle {vehicle.pk}")
                    tally.add("would refresh")
                    continue
                try:
                    result = vehicles.refresh_vehicle_data(vehicle)
                except (client.SmartcarException, DjangoSmartcarError) as exc:
                    tally.fail(f"vehicle {vehicle.pk}", str(exc))
                    continue
                if result.failed:
                    tally.fail(f"vehicle {vehicle.pk}", f"could not read {result.describe_failures()}")
                else:
                    if result.errors:
                        self.stdout.write(
                            f"vehicle {vehicle.pk}: could not read {result.describe_failures()}"
                        )
                    tally.add("vehicles refreshed")
        tally.summary()
        if options["fail_on_error"] and tally.failures:
            raise CommandError(f"{len(tally.failures)} item(s) failed.", returncode=1)

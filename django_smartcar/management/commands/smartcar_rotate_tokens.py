"""Rotate refresh tokens that are close to expiry, for sites that run cron instead of Celery beat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import client
from ...conf import smartcar_settings
from ...models import SmartcarAccount
from ...services import rotation
from ..progress import Tally


class Command(BaseCommand):
    help = "Rotate Smartcar refresh tokens expiring soon (default: inside SMARTCAR['REFRESH_TOKEN_ROTATION_WINDOW'])."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expiring-within",
            type=float,
            metavar="DAYS",
            help="Rotate tokens expiring within this many days (default: the rotation window).",
        )
        parser.add_argument(
            "--account",
            type=int,
            action="append",
            metavar="ID",
            help="Only this account (repeatable); forces rotation.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be rotated; change nothing."
        )
        parser.add_argument(
            "--fail-on-error", action="store_true", help="Exit with status 1 if any rotation failed."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["account"]:
            account_ids = list(
                SmartcarAccount.objects.filter(pk__in=options["account"])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            missing = set(options["account"]) - set(account_ids)
            if missing:
                raise CommandError(f"No Smartcar account with id {', '.join(map(str, sorted(missing)))}.")
        else:
            within = (
                timedelta(days=options["expiring_within"])
                if options["expiring_within"] is not None
                else smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW
            )
            account_ids = list(rotation.expiring_account_ids(within))

        tally = Tally(self.stdout, self.stderr, total=len(account_ids))
        for account_id in account_ids:
            if options["dry_run"]:
                self.stdout.write(f"would rotate account {account_id}")
                tally.add("would rotate")
                continue
            try:
                # Selected on purpose, so rotated even if outside the window (unless rotated meanwhile).
                outcome = rotation.rotate_account(account_id, force=True).outcome
            except client.SmartcarException as exc:
                tally.fail(f"account {account_id}", str(exc))
            else:
                tally.add(outcome)
        tally.summary()
        if options["fail_on_error"] and tally.failures:
            raise CommandError(f"{len(tally.failures)} account(s) failed to rotate.", returncode=1)

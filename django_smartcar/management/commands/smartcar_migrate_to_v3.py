"""Move v2 Smartcar accounts to API V3 (README, "Migrating from v2 to V3")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import smartcar_settings
from ...services import migration
from ..progress import Tally


class Command(BaseCommand):
    help = (
        "Move v2 Smartcar accounts to API V3: confirm each user id and its vehicles through GET /v3/connections, "
        "re-make webhook subscriptions through the v3 Management API, then drop the v2 tokens. Accounts that "
        "fail stay on v2. Running it again does nothing more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", type=int, action="append", metavar="ID", help="Only this account (repeatable)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Verify and report what would move; write nothing, make no state-changing request.",
        )
        parser.add_argument(
            "--fail-on-error", action="store_true", help="Exit with status 1 if any account failed."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not (smartcar_settings.API_CLIENT_ID and smartcar_settings.API_CLIENT_SECRET):
            raise CommandError(
                'API V3 needs SMARTCAR["API_CLIENT_ID"] and SMARTCAR["API_CLIENT_SECRET"] (the API credentials '
                "of your application in the Smartcar dashboard); nothing was changed."
            )
        accounts = migration.accounts_to_migrate(options["account"])
        if options["account"]:
            missing = set(options["account"]) - set(accounts.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No Smartcar account with id {', '.join(map(str, sorted(missing)))}.")
        dry_run = options["dry_run"]
        tally = Tally(self.stdout, self.stderr, total=accounts.count())
        if not options["account"]:
            left_alone = migration.unusable_v2_count()
            if left_alone:
                self.stdout.write(
                    f"{left_alone} v2 account(s) need their owner to connect again (re-authentication required "
                    "or disconnected): left on v2."
                )
        seen = 0
        for result in migration.migrate_accounts(accounts.iterator(), dry_run=dry_run):
            seen += 1
            if result.outcome == migration.FAILED:
                tally.fail(f"account {result.account_pk}", result.reason)
                continue
            self.stdout.write(result.describe())
            tally.add(result.outcome)
            if result.vehicles_not_found:
                tally.counts["vehicles not found in V3"] += len(result.vehicles_not_found)
        if not seen:
            self.stdout.write("No v2 account to move.")
        tally.summary()
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        if options["fail_on_error"] and tally.failures:
            raise CommandError(f"{len(tally.failures)} account(s) failed and stay on v2.", returncode=1)

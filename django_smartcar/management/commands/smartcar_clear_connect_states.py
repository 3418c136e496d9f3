"""Delete expired Connect states, like Django's ``clearsessions`` (the beat task does the same every hour)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...services import connect


class Command(BaseCommand):
    help = "Delete expired Smartcar Connect states (each is single-use and worthless once expired)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the expired states; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            count = connect.clear_expired_states(dry_run=True)
            self.stdout.write(f"{count} expired Connect state(s) would be deleted.")
            return
        count = connect.clear_expired_states()
        self.stdout.write(f"Deleted {count} expired Connect state(s).")

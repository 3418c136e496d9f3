"""Re-encrypt every stored token with the newest key, after a new key was put first in ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services import tokens


class Command(BaseCommand):
    help = "Re-encrypt stored Smartcar tokens with the newest key in SMARTCAR['ENCRYPTION_KEYS']."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every token decrypts; write nothing."
        )
        parser.add_argument(
            "--fail-on-error",
            action="store_true",
            help="Exit with status 1 if any account's tokens could not be re-encrypted.",
        )

    def handle(self, *args: Any, dry_run: bool = False, fail_on_error: bool = False, **options: Any) -> None:
        """Each failure is reported on stderr and counted; like smartcar_rotate_tokens, only ``--fail-on-error``
        turns failures into a non-zero exit (for scripts and CI), so one unreadable row never hides the rest."""
        result = tokens.reencrypt_all_tokens(dry_run=dry_run)
        for pk in result.failed:
            self.stderr.write(f"Account {pk}: no configured key decrypts its tokens.")
        done, failed = result.done, len(result.failed)
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(f"{done} account(s) {verb}, {failed} failed.")
        if failed:
            self.stderr.write(f"{failed} account(s) could not be decrypted with the configured keys.")
            if fail_on_error:
                raise CommandError(
                    f"{failed} account(s) could not be decrypted with the configured keys.", returncode=1
                )

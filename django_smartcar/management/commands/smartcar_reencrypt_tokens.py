"""Re-encrypt every stored token with the newest key, after a new key was put first in ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ...crypto import EncryptionKeyError, reencrypt
from ...db import select_for_update
from ...models import SmartcarAccount

BATCH_SIZE = 500


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
        done = failed = 0
        ids = SmartcarAccount.objects.exclude(refresh_token_encrypted="").values_list("pk", flat=True)
        for pk in ids.iterator(chunk_size=BATCH_SIZE):
            # One short transaction per account: a token refresh racing with this command waits on the row
            # lock instead of having its new tokens overwritten with re-encrypted old ones.
            with transaction.atomic():
                account = select_for_update(SmartcarAccount.objects.filter(pk=pk)).get()
                try:
                    access = (
                        reencrypt(account.access_token_encrypted) if account.access_token_encrypted else ""
                    )
                    refresh = reencrypt(account.refresh_token_encrypted)
                except EncryptionKeyError:
                    failed += 1
                    self.stderr.write(f"Account {pk}: no configured key decrypts its tokens.")
                    continue
                if not dry_run:
                    account.access_token_encrypted = access
                    account.refresh_token_encrypted = refresh
                    account.save(update_fields=["access_token_encrypted", "refresh_token_encrypted"])
                done += 1
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(f"{done} account(s) {verb}, {failed} failed.")
        if failed:
            self.stderr.write(f"{failed} account(s) could not be decrypted with the configured keys.")
            if fail_on_error:
                raise CommandError(
                    f"{failed} account(s) could not be decrypted with the configured keys.", returncode=1
                )

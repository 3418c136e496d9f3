"""Process stored webhook events that are not processed yet (e.g. after a worker outage or a fixed bug)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services import webhooks
from ..progress import Tally


class Command(BaseCommand):
    help = (
        "Process unprocessed Smartcar webhook events (pending and failed; --failed for failed ones only, "
        "--pending for pending ones older than WEBHOOK_PENDING_REQUEUE_AFTER)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--failed", action="store_true", help="Only events whose processing failed before."
        )
        parser.add_argument(
            "--pending",
            action="store_true",
            help="Only events still pending (never processed nor failed) after WEBHOOK_PENDING_REQUEUE_AFTER.",
        )
        parser.add_argument(
            "--event", action="append", metavar="EVENT_ID", help="Only this event id (repeatable)."
        )
        parser.add_argument("--dry-run", action="store_true", help="List the events; process nothing.")
        parser.add_argument(
            "--fail-on-error", action="store_true", help="Exit with status 1 if any event failed."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        events = webhooks.unprocessed_events(
            failed_only=options["failed"],
            stale_pending_only=options["pending"],
            event_ids=options["event"] or (),
        )
        tally = Tally(self.stdout, self.stderr, total=events.count())
        for event in events.only("pk", "event_id", "event_type").iterator():
            if options["dry_run"]:
                self.stdout.write(f"would process {event.event_type} {event.event_id}")
                tally.add("would process")
                continue
            try:
                webhooks.process_event(event.pk)
            except Exception as exc:  # recorded on the event by the service; counted here
                tally.fail(f"event {event.event_id}", f"{type(exc).__name__}: {exc}")
            else:
                tally.add("processed")
        tally.summary()
        if options["fail_on_error"] and tally.failures:
            raise CommandError(f"{len(tally.failures)} event(s) failed.", returncode=1)

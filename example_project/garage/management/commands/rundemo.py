"""``manage.py rundemo``: everything `make demo` needs, in one process tree.

Migrates, registers the demo application with the bundled simulator and seeds its cars, creates the demo
user, starts a Celery worker with beat, and serves the site. Ctrl-C (or SIGTERM) stops all of it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from garage.demo import (
    DEMO_DRIVER_EMAIL,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    ensure_demo_user,
    prepare_simulator,
    simulator_installed,
)


def _exit_on_signal(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


class Command(BaseCommand):
    help = "Run the example project with the simulator, a demo user and a Celery worker with beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-celery", action="store_true", help="Do not start the Celery worker and beat."
        )

    def handle(self, *args: Any, addrport: str, no_celery: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if simulator_installed():
            prepare_simulator()
        ensure_demo_user()
        worker = None if no_celery else self._start_worker()
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  django-smartcar demo on http://{addrport}/\n"
                f'  Sign in as {DEMO_USERNAME!r} with password {DEMO_PASSWORD!r}, then press "Connect a car".\n'
            )
        )
        if simulator_installed():
            self.stdout.write(
                f'  In the simulated Connect, choose "Any brand" and sign in as {DEMO_DRIVER_EMAIL} for the '
                "demo's cars (any other email gets a new one).\n"
            )
        # A plain `kill` (SIGTERM) stops the demo like Ctrl-C does, so the worker never outlives it.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=20)

    def _start_worker(self) -> subprocess.Popen:
        log_path = Path(settings.VAR_DIR) / "celery.log"
        self.stdout.write(f"Starting a Celery worker with beat (log: {log_path})")
        with log_path.open("ab") as log:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "example_project",
                    "worker",
                    "--beat",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "4",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
                ],
                cwd=settings.BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

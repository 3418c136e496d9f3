"""``manage.py rundemo``: everything `make demo` needs, in one process tree.

Migrates, registers the demo application with the bundled simulator and seeds its cars, creates the demo
user, starts a Celery worker with beat, and serves the site. Ctrl-C stops all of it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from django_smartcar.conf import smartcar_settings

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
DEMO_DRIVER_EMAIL = "driver@example.com"


class Command(BaseCommand):
    help = "Run the example project with the simulator, a demo user and a Celery worker with beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-celery", action="store_true", help="Do not start the Celery worker and beat."
        )

    def handle(self, *args: Any, addrport: str, no_celery: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self._prepare_simulator()
        self._ensure_demo_user()
        worker = None if no_celery else self._start_worker()
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  django-smartcar demo on http://{addrport}/\n"
                f"  sign in as {DEMO_USERNAME!r} / password {DEMO_PASSWORD!r}; in Connect use any email "
                f"(cars are seeded for {DEMO_DRIVER_EMAIL}).\n"
            )
        )
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=20)

    def _prepare_simulator(self) -> None:
        if "django_smartcar.simulator" not in settings.INSTALLED_APPS:
            return
        from django_smartcar.simulator.seeding import register_application, seed_vehicles

        register_application(
            smartcar_settings.CLIENT_ID,
            smartcar_settings.CLIENT_SECRET,
            [smartcar_settings.REDIRECT_URI],
            management_token=smartcar_settings.MANAGEMENT_TOKEN,
            name="django-smartcar demo",
        )
        # Same seed, same cars: restarting the demo does not add more.
        seed_vehicles(2, seed=1, email=DEMO_DRIVER_EMAIL, make="TESLA")
        seed_vehicles(2, seed=2, email=DEMO_DRIVER_EMAIL)

    def _ensure_demo_user(self) -> None:
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME,
            defaults={"is_staff": True, "is_superuser": True, "email": "demo@example.com"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()

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

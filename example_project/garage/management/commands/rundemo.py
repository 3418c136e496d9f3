"""``manage.py rundemo``: everything `make demo` needs, in one process tree.

Migrates, registers the demo application with the bundled simulator and seeds its cars, creates the demo
user, starts a Celery worker with beat, and serves the site. Ctrl-C (or SIGTERM) stops all of it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_smartcar.client.config import V3_API_VERSION
from django_smartcar.services.clients import connect_api
from garage.demo import (
    DEMO_DRIVER_EMAIL,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    ensure_demo_user,
    prepare_simulator,
    simulator_installed,
)


def split_addrport(addrport: str) -> tuple[str, int]:
    """``"127.0.0.1:8000"``, ``"8000"`` or ``"[::1]:8000"`` as (host, port), as runserver reads them."""
    host, _, port = addrport.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise CommandError(f"{addrport!r} is not an address and port, e.g. 127.0.0.1:8000.") from None
    return (host.strip("[]") or "127.0.0.1"), number


def port_is_free(host: str, port: int) -> bool:
    """Whether runserver could listen there (with SO_REUSEADDR, as it does: a port just closed is free)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror:
        return True  # an unknown host is runserver's own error to report
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def new_connections_banner(api_version: str) -> str:
    """Which Smartcar API a car connected now goes through, and how to pick the other one."""
    if api_version == V3_API_VERSION:
        return (
            "  New connections use Smartcar API V3 (application token, signals), as Smartcar recommends; "
            "SMARTCAR_API_VERSION=2.0 makes them v2.\n"
        )
    return (
        f"  New connections use Smartcar API v{api_version} (per-vehicle tokens); SMARTCAR_API_VERSION=3 "
        "makes them V3.\n"
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
        # Before anything else: a busy port is one clear line, not a traceback after the banner.
        host, port = split_addrport(addrport)
        if not port_is_free(host, port):
            self.stderr.write(
                f"Port {port} on {host} is in use; stop what uses it or run `make demo PORT={port + 1}`."
            )
            raise SystemExit(1)
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
        self.stdout.write(new_connections_banner(connect_api().api_version))
        if simulator_installed():
            self.stdout.write(
                f'  In the simulated Connect, choose "Any brand" and sign in as {DEMO_DRIVER_EMAIL} for the '
                "demo's cars (any other email gets a new one).\n"
            )
            scale = getattr(settings, "SMARTCAR_SIMULATOR", {}).get("LATENCY", {}).get("scale", 0)
            if scale:
                self.stdout.write(
                    f"  The simulator answers with Smartcar's latency at {scale:g} of real time (a typical 8 s "
                    f"read takes {8000 * scale:.0f} ms; SIMULATOR_LATENCY_SCALE=0 turns it off).\n"
                )
        # The banner above already says this is a local demo: runserver's production warning (Django 5.2+)
        # would only add noise.
        os.environ.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
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

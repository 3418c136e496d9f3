"""Run the simulator on its own, like other API mocks, with no Django project of the user's::

    python -m django_smartcar.simulator --port 8765 --client-id ID --client-secret SECRET \\
        --redirect-uri http://localhost:8000/callback [--api-client-id client_ID --api-client-secret S] [--vehicles 3] [--seed 0] [--latency-ms 0] \\
        [--latency-model smartcar --latency-scale 0.01 --latency-seed 0] \\
        [--app-rate-limit 120/2] [--vehicle-rate-limit 20/3600] [--monthly-vehicle-requests 500] \\
        [--no-limits] [--no-traits]

Everything (Connect pages, token endpoint, vehicle, management and control APIs) is served at the root of
one origin, from a SQLite database in a temporary folder unless ``--database`` names a file to keep.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from django.core.servers.basehttp import WSGIServer

from .defaults import LIMITS
from .latency import MODELS
from .latency import parse as parse_latency


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m django_smartcar.simulator",
        description="A local Smartcar: Connect, token endpoint, vehicle and management APIs, webhooks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765)")
    parser.add_argument("--client-id", required=True, help="client id of the application to register")
    parser.add_argument("--client-secret", required=True, help="its client secret")
    parser.add_argument(
        "--redirect-uri", required=True, action="append", help="a redirect URI it may use (repeat for more)"
    )
    parser.add_argument("--management-token", help="its management token (default: generated and printed)")
    parser.add_argument(
        "--api-client-id",
        help="its API V3 client id, for application tokens from /oauth2/token (default: generated and printed)",
    )
    parser.add_argument(
        "--api-client-secret", help="its API V3 client secret (default: generated and printed)"
    )
    parser.add_argument("--vehicles", type=int, default=3, help="vehicles to seed (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the vehicles (default: 0)")
    parser.add_argument("--email", default="driver@example.com", help="owner of the seeded vehicles")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="latency added to every answer (default: 0)"
    )
    parser.add_argument(
        "--latency-model",
        choices=sorted(MODELS),
        default="none",
        help="'smartcar': Smartcar's latency per endpoint class, 3-45 s reads up to 300 s (default: none)",
    )
    parser.add_argument(
        "--latency-scale",
        type=float,
        default=1.0,
        help="multiplies the model's delays: 0.01 turns an 8 s read into 80 ms (default: 1, real time)",
    )
    parser.add_argument("--latency-seed", type=int, default=0, help="seed of the model's delays (default: 0)")
    parser.add_argument(
        "--webhook-time-scale",
        type=float,
        default=1.0,
        help="real seconds per second of webhook redelivery delays (default: 1; 0.01 retries after 0.25 s)",
    )
    parser.add_argument(
        "--database", type=Path, help="SQLite file to use and keep (default: a temporary one)"
    )
    app_rate = (LIMITS["APP_RATE_LIMIT"]["capacity"], LIMITS["APP_RATE_LIMIT"]["refill_per_minute"])
    vehicle_rate = (LIMITS["VEHICLE_RATE_LIMIT"]["requests"], LIMITS["VEHICLE_RATE_LIMIT"]["window_seconds"])
    monthly = LIMITS["VEHICLE_MONTHLY_REQUEST_LIMIT"]
    parser.add_argument(
        "--app-rate-limit",
        type=rate,
        default=app_rate,
        metavar="CAPACITY/REFILL",
        help=f"the application's bucket: requests / refilled per minute, or 'off' (default: {app_rate[0]}/{app_rate[1]})",
    )
    parser.add_argument(
        "--vehicle-rate-limit",
        type=rate,
        default=vehicle_rate,
        metavar="REQUESTS/SECONDS",
        help=f"each vehicle's throttle: requests / window in seconds, or 'off' (default: {vehicle_rate[0]}/{vehicle_rate[1]})",
    )
    parser.add_argument(
        "--monthly-vehicle-requests",
        type=count_or_off,
        default=monthly,
        metavar="N",
        help=f"billed requests per vehicle and month before 430 BILLING, or 'off' (default: {monthly})",
    )
    parser.add_argument(
        "--no-limits", action="store_true", help="turn all three limits off (e.g. for test suites)"
    )
    parser.add_argument(
        "--no-traits",
        action="store_true",
        help="seed only plain cars: no plug-in hybrids, stale data or sleeping cars",
    )
    args = parser.parse_args(argv)
    if args.vehicles < 0 or args.latency_ms < 0:
        parser.error("--vehicles and --latency-ms must not be negative")
    if (args.api_client_id is None) != (args.api_client_secret is None):
        parser.error("give --api-client-id and --api-client-secret together")
    if not args.webhook_time_scale > 0:
        parser.error("--webhook-time-scale must be positive")
    try:
        parse_latency(latency_setting(args))
    except ValueError as error:
        parser.error(str(error).replace("LATENCY scale", "--latency-scale"))
    return args


def rate(text: str) -> tuple[float, float] | None:
    """``"120/2"`` -> (120, 2); ``"off"`` -> None."""
    if text.strip().lower() == "off":
        return None
    try:
        first, second = (float(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not NUMBER/NUMBER or off") from None
    if first <= 0 or second <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: both numbers must be positive")
    return first, second


def count_or_off(text: str) -> int | None:
    if text.strip().lower() == "off":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or off") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def simulator_settings(args: argparse.Namespace) -> dict[str, Any]:
    """SMARTCAR_SIMULATOR from the command line: latency, limits, traits of the seeded cars."""
    app_rate = None if args.no_limits else args.app_rate_limit
    vehicle_rate = None if args.no_limits else args.vehicle_rate_limit
    return {
        "LATENCY_MS": args.latency_ms,
        "LATENCY": latency_setting(args),
        "APP_RATE_LIMIT": {"capacity": app_rate[0], "refill_per_minute": app_rate[1]} if app_rate else None,
        "VEHICLE_RATE_LIMIT": (
            {"requests": vehicle_rate[0], "window_seconds": vehicle_rate[1]} if vehicle_rate else None
        ),
        "VEHICLE_MONTHLY_REQUEST_LIMIT": None if args.no_limits else args.monthly_vehicle_requests,
        "SEED_TRAITS": not args.no_traits,
        "WEBHOOK_TIME_SCALE": args.webhook_time_scale,
    }


def latency_setting(args: argparse.Namespace) -> dict[str, Any]:
    return {"model": args.latency_model, "scale": args.latency_scale, "seed": args.latency_seed}


def configure(database: Path, simulator: dict[str, Any]) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        # Only signs Connect flows, which last minutes: a fresh key per run is enough.
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["django_smartcar.simulator"],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        ROOT_URLCONF="django_smartcar.simulator.standalone_urls",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(database),
                "OPTIONS": {"timeout": 30},
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        TIME_ZONE="UTC",
        SMARTCAR_SIMULATOR=simulator,
    )


class NoDelayWSGIServer(WSGIServer):
    """Django's development server, without Nagle's algorithm on accepted connections.

    Otherwise every request after the first on a kept-alive connection waits ~40 ms for a delayed ACK, which
    would make clients that pool connections (as a real client should) look slower than ones that do not.
    The listen backlog is Smartcar-sized too: bulk work opens hundreds of connections at once, and the
    socketserver default of 5 would refuse them.
    """

    request_queue_size = 1024

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Leave through SystemExit so the temporary database folder is removed.
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smartcar-simulator-") as folder:
        configure(args.database or Path(folder) / "simulator.sqlite3", simulator_settings(args))

        import django
        from django.core.management import call_command
        from django.core.servers.basehttp import run
        from django.core.wsgi import get_wsgi_application

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)

        from .seeding import register_application, seed_vehicles

        api_client_id = args.api_client_id or f"client_{secrets.token_hex(8)}"
        api_client_secret = args.api_client_secret or secrets.token_urlsafe(24)
        application = register_application(
            args.client_id,
            args.client_secret,
            args.redirect_uri,
            management_token=args.management_token,
            api_client_id=api_client_id,
            api_client_secret=api_client_secret,
        )
        vehicles = seed_vehicles(args.vehicles, seed=args.seed, email=args.email)

        origin = f"http://{args.host}:{args.port}"
        print(f"Smartcar simulator on {origin}", flush=True)
        if args.latency_model != "none":
            print(f"  latency: the {args.latency_model!r} model at scale {args.latency_scale:g}")
        print(f"  SMARTCAR_CONNECT_ORIGIN={origin}")
        print(f"  SMARTCAR_AUTH_ORIGIN={origin}/oauth/token")
        print(f"  SMARTCAR_API_ORIGIN={origin}")
        print(f"  SMARTCAR_MANAGEMENT_API_ORIGIN={origin}")
        print(f"  SMARTCAR_IAM_ORIGIN={origin}")
        print(f"  SMARTCAR_VEHICLE_API_V3_ORIGIN={origin}")
        print(f"  SMARTCAR_MANAGEMENT_API_V3_ORIGIN={origin}")
        # A generated token has to be shown to be usable; one that was passed in is not echoed.
        shown_token = "(as given)" if args.management_token else application.management_token
        print(f"  management token: {shown_token}")
        # Likewise the API V3 credentials: a generated secret is shown, a given one is not.
        print(f"  API client id: {api_client_id}")
        print(f"  API client secret: {'(as given)' if args.api_client_secret else api_client_secret}")
        for vehicle in vehicles:
            print(f"  {args.email}: {vehicle}")
        sys.stdout.flush()

        # FIRST_DELIVERY events and redeliveries of failed webhook deliveries go out from a background thread.
        import threading

        from .webhooks import run_redelivery

        stop_redelivery = threading.Event()
        threading.Thread(target=run_redelivery, args=(stop_redelivery,), daemon=True).start()

        signal.signal(signal.SIGTERM, stop_on_sigterm)
        # Ctrl-C is the normal way to stop it; no traceback for that.
        with contextlib.suppress(KeyboardInterrupt):
            run(args.host, args.port, get_wsgi_application(), threading=True, server_cls=NoDelayWSGIServer)

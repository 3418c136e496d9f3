"""Django settings of the benchmark site: the app as a production project would run it.

``python -m benchmarks`` sets the environment these read (database, broker, Smartcar origins) for itself and
for the gunicorn it starts. DEBUG is off and database connections persist, as in production.
"""

from datetime import timedelta
from pathlib import Path

import django
import environ

from .credentials import (
    API_CLIENT_ID,
    API_CLIENT_SECRET,
    CLIENT_ID,
    CLIENT_SECRET,
    MANAGEMENT_TOKEN,
    REDIRECT_URI,
)

env = environ.Env()

DEBUG = False
SECRET_KEY = "benchmarks-only-secret-key"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "django_smartcar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "benchmarks.urls"
WSGI_APPLICATION = "benchmarks.wsgi.application"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

DATABASES = {"default": env.db("BENCH_DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    if django.VERSION >= (5, 1):
        # Worker threads and gunicorn processes share the file: writers queue for the lock, readers never wait.
        DATABASES["default"]["OPTIONS"].update(
            transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        )
if env.bool("BENCH_ASYNC_COMMIT", default=False) and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # benchmarks/webhooks.py's diagnostic only: commits that do not wait for the WAL flush (not durable).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"


def _rate_limit(value: str) -> dict[str, float] | None:
    if value == "off":
        return None
    capacity, refill = value.split("/")
    return {"capacity": float(capacity), "refill_per_minute": float(refill)}


# Webhook ids and the encryption key are benchmark-only values; the origins come from SMARTCAR_*_ORIGIN.
WEBHOOK_URL_ID = "bench-webhook-url-id"
SMARTCAR = {
    "CLIENT_ID": CLIENT_ID,
    "CLIENT_SECRET": CLIENT_SECRET,
    "REDIRECT_URI": REDIRECT_URI,
    "MODE": "simulated",
    "ENCRYPTION_KEYS": ["a4PCJ2nnZCcz6QsyOQmp25p2MNBR09D0ld5DT9N1pvA="],
    "MANAGEMENT_TOKEN": MANAGEMENT_TOKEN,
    "WEBHOOK_URL_ID": WEBHOOK_URL_ID,
    # 10 chunk tasks of ROTATION_CHUNK_SIZE (200) x 6 = 60 token exchanges in flight, where the default 50
    # would put 500 on a one-process simulator sharing 2 cores: it then dropped connections and each request
    # cost it more CPU. Measured on the same machine (other work running beside it): 3.6x the loop at 50,
    # 7.0-7.9x at 10, 8.4-10.0x at 6.
    "ROTATION_MAX_IN_FLIGHT": 6,
    # Benchmark 2 queues the fixed-interval refresh of every vehicle (off by default in favour of polling).
    "VEHICLE_REFRESH_INTERVAL": timedelta(hours=1),
    # The benchmarks measure throughput, not plans: no vehicle's budget ends a run (the ledger still counts).
    "MONTHLY_REQUESTS_PER_VEHICLE": None,
    # The application's bucket as a large fleet's plan has it, unless benchmark 5 asks for Smartcar's default
    # ("120/2"); BENCH_APP_RATE_LIMIT=off turns pacing off.
    "APP_RATE_LIMIT": _rate_limit(env("BENCH_APP_RATE_LIMIT", default="off")),
    "BULK_MAX_IN_FLIGHT": env.int("BENCH_BULK_MAX_IN_FLIGHT", default=256),
    "BULK_CHUNK_SIZE": env.int("BENCH_BULK_CHUNK_SIZE", default=1000),
    # The production path by default: the receiver stores, beat's dispatcher processes (2 s, the app's default).
    # ``--webhook-dispatch-interval none`` measures the receiver that queues one Celery task per event instead.
    "WEBHOOK_DISPATCH_INTERVAL": (
        None
        if env("BENCH_WEBHOOK_DISPATCH_INTERVAL", default="2").lower() == "none"
        else timedelta(seconds=float(env("BENCH_WEBHOOK_DISPATCH_INTERVAL", default="2")))
    ),
    # API V3 (benchmark 7): the simulator application's API credentials. Its second phase compresses the token's
    # hour by renewing it early (BENCH_APP_TOKEN_RENEW_BEFORE seconds before it expires).
    "API_CLIENT_ID": API_CLIENT_ID,
    "API_CLIENT_SECRET": API_CLIENT_SECRET,
    "APP_TOKEN_RENEW_BEFORE": timedelta(seconds=env.float("BENCH_APP_TOKEN_RENEW_BEFORE", default=300.0)),
}
# Rotation's chunks and exchanges in flight per chunk task: the app's defaults unless overridden to explore.
for _name in ("ROTATION_CHUNK_SIZE", "ROTATION_MAX_IN_FLIGHT"):
    if env(f"BENCH_{_name}", default=None):
        SMARTCAR[_name] = env.int(f"BENCH_{_name}")

# Benchmark 7 sends the REST API's refreshes as fast as they are answered: the per-user throttle of calls that
# reach Smartcar (10/minute by default) would answer most of them 429 without reaching it.
REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"smartcar_commands": None}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/11")
if CELERY_BROKER_URL == "filesystem://":
    # No broker server (the test suite's SQLite leg): kombu's filesystem transport in a folder of this run.
    _broker_folder = Path(env("BENCH_BROKER_FOLDER"))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder),
        "data_folder_out": str(_broker_folder),
        "control_folder": str(_broker_folder / "control"),
        "polling_interval": 0.05,
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
# Its own queue: purging it between runs never touches another user of the same broker.
CELERY_TASK_DEFAULT_QUEUE = "django-smartcar-benchmarks"
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fix-up otherwise closes every database connection before and after each task.
CELERY_DB_REUSE_MAX = 1000
# A bulk chunk runs for minutes: a worker reserves the next message only when it can run it, so that a second
# worker process takes the second chunk (the README's advice for bulk work).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

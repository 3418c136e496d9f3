"""Settings for the test suite. DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import django
import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = "tests-only-secret-key"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",  # only to show the beat schedule loads into its database scheduler
    "django_smartcar",
    "django_smartcar.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is a file, not ":memory:": the live server's threads, concurrency tests and Celery worker processes
# must all see the same committed data, with SQLite's ordinary file locking.
# Child processes (Celery worker and beat, the standalone simulator) inherit the path through the environment.
SQLITE_PATH = Path(
    os.environ.setdefault(
        "DJANGO_SMARTCAR_TEST_SQLITE",
        str(Path(tempfile.gettempdir()) / f"django_smartcar_tests_{os.getpid()}.sqlite3"),
    )
)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(SQLITE_PATH)}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    if django.VERSION >= (5, 1):
        # Writers take the lock when their transaction starts (instead of failing at once with "database is
        # locked" when a reader upgrades), and WAL lets readers run beside the writer: the live simulator,
        # worker processes and tests all share this file.
        DATABASES["default"]["OPTIONS"].update(
            transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Only the schema class: the API's tests run with DRF's default authentication, permissions and throttling,
# as a project that configures nothing would.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Celery: Redis when CELERY_BROKER_URL says so (CI's second leg), else kombu's filesystem transport, which needs
# no server and still lets the integration test's worker and beat processes share messages with this one.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
# pytest-xdist runs the suite in several processes (PYTEST_XDIST_WORKER "gw0", "gw1", ...; their Celery workers
# inherit it): each gets its own Redis database, counting down from the one named, so no process's worker
# takes another's tasks. (The filesystem broker's folder and the SQLite file are per process already.)
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and CELERY_BROKER_URL.startswith("redis://"):
    _base, _, _db = CELERY_BROKER_URL.rpartition("/")
    CELERY_BROKER_URL = f"{_base}/{(int(_db or 0) - int(_xdist_worker[2:])) % 16}"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = Path(
        os.environ.setdefault(
            "DJANGO_SMARTCAR_TEST_BROKER_DIR",
            str(Path(tempfile.gettempdir()) / f"django_smartcar_broker_{os.getpid()}"),
        )
    )
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),  # (default: ./control in the working directory)
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False  # broadcast (pidbox) is not what this transport is for
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Test-only key; the simulator fixtures point the origins at the live server.
TEST_ENCRYPTION_KEY = "K-ewv9ECXCtSPUrXvMbUmDLIeQ-WLN1qw8CmKXJE3cE="
SMARTCAR = {
    "CLIENT_ID": "test-client-id",
    "CLIENT_SECRET": "test-client-secret",
    # The suite written for v2 connects through v2; the V3 tests ask for "3" (tests/v3/).
    "API_VERSION": "2.0",
    "API_CLIENT_ID": "client_test",
    "API_CLIENT_SECRET": "test-api-client-secret",
    "MODE": "simulated",
    "ENCRYPTION_KEYS": [TEST_ENCRYPTION_KEY],
    # Bulk work against pytest-django's live server (a listen backlog of 5, SQLite): a few requests in flight,
    # not Smartcar's hundreds; the benchmarks run the default against the standalone simulator.
    "BULK_MAX_IN_FLIGHT": 4,
    # The Celery integration test runs beat with a short interval; everything else uses the defaults.
    **(
        {"ROTATION_CHECK_INTERVAL": timedelta(seconds=float(os.environ["DJANGO_SMARTCAR_TEST_BEAT_SECONDS"]))}
        if os.environ.get("DJANGO_SMARTCAR_TEST_BEAT_SECONDS")
        else {}
    ),
    # The webhook sweep test runs beat with a short sweep interval and pending-age bound.
    **(
        {
            "WEBHOOK_SWEEP_INTERVAL": timedelta(
                seconds=float(os.environ["DJANGO_SMARTCAR_TEST_SWEEP_SECONDS"])
            ),
            "WEBHOOK_PENDING_REQUEUE_AFTER": timedelta(
                seconds=float(os.environ["DJANGO_SMARTCAR_TEST_SWEEP_SECONDS"])
            ),
        }
        if os.environ.get("DJANGO_SMARTCAR_TEST_SWEEP_SECONDS")
        else {}
    ),
}

# The suite makes hundreds of requests a session: Smartcar's limits (on by default in the simulator) are off
# here except in the tests of the limits themselves, and seeded cars have no traits (hybrid, stale, sleeping)
# so each answers every time; tests that want those create such cars.
SMARTCAR_SIMULATOR = {
    "APP_RATE_LIMIT": None,
    "VEHICLE_RATE_LIMIT": None,
    "VEHICLE_MONTHLY_REQUEST_LIMIT": None,
    "SEED_TRAITS": False,
}

# The test site's only sign-in page is the admin's (a fresh startproject's too; system check W007).
LOGIN_URL = "admin:login"

# The suite runs in simulated mode with DEBUG off on purpose; the warning is tested on its own.
SILENCED_SYSTEM_CHECKS = ["django_smartcar.W001"]

# Django's default per-process cache, and (for the throttle test's server processes) a shared Redis cache that
# the API's command throttle counts in when DJANGO_SMARTCAR_TEST_THROTTLE_REDIS names one.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("DJANGO_SMARTCAR_TEST_THROTTLE_REDIS"):
    CACHES["throttle"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["DJANGO_SMARTCAR_TEST_THROTTLE_REDIS"],
    }
    SMARTCAR["THROTTLE_CACHE"] = "throttle"
else:
    # Each test process is one server: its throttle counts are naturally shared. W006 is tested on its own.
    SILENCED_SYSTEM_CHECKS.append("django_smartcar.W006")

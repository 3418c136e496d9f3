"""Settings for the django-smartcar example project.

Every value has a working default (SQLite, the bundled Smartcar simulator, Celery's filesystem broker) and can be
overridden from the environment or a ``.env`` file beside manage.py, e.g. ``DATABASE_URL=postgres://...
CELERY_BROKER_URL=redis://... SMARTCAR_CLIENT_ID=... python manage.py runserver`` (README: Production setup).
"""

from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Local files: the SQLite database, the demo's encryption key and Celery's filesystem broker. Tests give each
# run its own folder.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)
# The default key is only good for the local demo; production sets SECRET_KEY.
SECRET_KEY = env("SECRET_KEY", default="django-insecure-example-project-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The bundled Smartcar simulator stands in for Smartcar until real credentials are given.
USE_SIMULATOR = env.bool("USE_SIMULATOR", default=not env.str("SMARTCAR_CLIENT_ID", default=""))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from here, not a CDN: the docs work offline
    "django_smartcar",
    *(["django_smartcar.simulator"] if USE_SIMULATOR else []),
    "garage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# One cache per process unless CACHE_URL names a shared one (production: the API's throttle counts there).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the bundled simulator and the Celery worker share this file: wait for locks rather than
    # fail, and let readers run beside the writer.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    if django.VERSION >= (5, 1):
        DATABASES["default"]["OPTIONS"].update(
            transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# The REST API (mounted at /api/smartcar/) keeps DRF's defaults: session and basic authentication, signed-in
# users only (the API adds IsAuthenticated itself), and its own pagination and command throttle.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "TITLE": "django-smartcar example API",
    "DESCRIPTION": "Your Smartcar accounts and vehicles: last known data, commands and Connect.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "garage:dashboard"
LOGOUT_REDIRECT_URL = "login"

# With DEBUG off the site is served over HTTPS: `python manage.py check --deploy` lists anything left.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
if env.bool("BEHIND_HTTPS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def _demo_encryption_key() -> str:
    """A key made once per checkout and kept in var/, so the demo needs no set-up; production sets the env var."""
    key_file = VAR_DIR / "encryption.key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if USE_SIMULATOR:
    # Everything points at the simulator mounted at SITE_URL/simulator/, with the demo application's
    # credentials; `manage.py rundemo` registers that application and seeds its cars.
    SIMULATOR_ORIGIN = f"{SITE_URL}/simulator"
    SMARTCAR = {
        "CLIENT_ID": "demo-client-id",
        "CLIENT_SECRET": "demo-client-secret",
        "REDIRECT_URI": f"{SITE_URL}/smartcar/callback/",
        "MODE": "simulated",
        "CONNECT_ORIGIN": SIMULATOR_ORIGIN,
        "AUTH_ORIGIN": f"{SIMULATOR_ORIGIN}/oauth/token",
        "API_ORIGIN": SIMULATOR_ORIGIN,
        "MANAGEMENT_API_ORIGIN": SIMULATOR_ORIGIN,
        # New connections use API V3, as Smartcar recommends; SMARTCAR_API_VERSION=2.0 makes them v2 (accounts
        # keep the API they were connected with, so both can be shown side by side). The simulator answers
        # IAM and both V3 APIs too, with the demo application's API credentials below.
        "API_VERSION": env.str("SMARTCAR_API_VERSION", default="3"),
        "API_CLIENT_ID": "client_demo",
        "API_CLIENT_SECRET": "demo-api-client-secret",
        "IAM_ORIGIN": SIMULATOR_ORIGIN,
        "VEHICLE_API_V3_ORIGIN": SIMULATOR_ORIGIN,
        "MANAGEMENT_API_V3_ORIGIN": SIMULATOR_ORIGIN,
        "MANAGEMENT_TOKEN": "demo-management-token",
        "ENCRYPTION_KEYS": env.list("SMARTCAR_ENCRYPTION_KEYS", default=None) or [_demo_encryption_key()],
        # Read each newly connected car in the background (the browser tests switch it off, to see "No data").
        "REFRESH_ON_CONNECT": env.bool("DEMO_REFRESH_ON_CONNECT", default=True),
    }
    # The simulator answers with Smartcar's latency (reads 3-45 s, up to 300 s; commands slower), compressed by
    # SIMULATOR_LATENCY_SCALE: at 0.02 a typical 8 s read takes 160 ms, the slowest 6 s. 0 answers at once.
    SMARTCAR_SIMULATOR = {
        "LATENCY": {
            "model": "smartcar",
            "scale": env.float("SIMULATOR_LATENCY_SCALE", default=0.02),
            "seed": 0,
        }
    }
else:
    # A real Smartcar application: django-smartcar reads SMARTCAR_CLIENT_ID, SMARTCAR_CLIENT_SECRET,
    # SMARTCAR_REDIRECT_URI, SMARTCAR_MODE, SMARTCAR_ENCRYPTION_KEYS, SMARTCAR_MANAGEMENT_TOKEN... from the
    # environment itself. No key is made up here: without SMARTCAR_ENCRYPTION_KEYS, `manage.py check` fails.
    SMARTCAR = {}
# After Connect, users land back on the garage's dashboard (which shows the message), not the app's own page.
SMARTCAR["CONNECT_SUCCESS_URL"] = "garage:dashboard"

# Celery: no server needed by default (kombu's filesystem transport under var/); set CELERY_BROKER_URL to
# redis://... in production.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    _broker_dir.mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),  # (default: ./control in the working directory)
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[%(asctime)s: %(levelname)s/%(name)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # propagate=False: the Celery worker (``rundemo``) hijacks the root logger and gives it its own handler, so a
    # record that also reached root would be written twice to var/celery.log.
    "loggers": {
        "django_smartcar": {
            "handlers": ["console"],
            "level": env("LOG_LEVEL", default="INFO"),
            "propagate": False,
        }
    },
}

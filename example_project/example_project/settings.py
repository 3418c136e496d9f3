"""Settings for the django-smartcar example project.

Every value has a working default (SQLite, the bundled Smartcar simulator) and can be overridden from the
environment, e.g. ``DATABASE_URL=postgres://... SMARTCAR_CLIENT_ID=... python manage.py runserver``.
"""

from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
# The default key is only good for the local demo; production sets SECRET_KEY.
SECRET_KEY = env("SECRET_KEY", default="django-insecure-example-project-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_smartcar",
    "django_smartcar.simulator",
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

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/"


def _demo_encryption_key() -> str:
    """A key made once per checkout and kept in var/, so the demo needs no set-up; production sets the env var."""
    key_file = VAR_DIR / "encryption.key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


# The bundled simulator answers at SITE_URL/simulator/ unless real Smartcar origins are given.
SIMULATOR_ORIGIN = f"{SITE_URL}/simulator"
SMARTCAR = {
    "CLIENT_ID": env("SMARTCAR_CLIENT_ID", default="demo-client-id"),
    "CLIENT_SECRET": env("SMARTCAR_CLIENT_SECRET", default="demo-client-secret"),
    "REDIRECT_URI": env("SMARTCAR_REDIRECT_URI", default=f"{SITE_URL}/smartcar/callback/"),
    "MODE": env("SMARTCAR_MODE", default="simulated"),
    "CONNECT_ORIGIN": env("SMARTCAR_CONNECT_ORIGIN", default=SIMULATOR_ORIGIN),
    "AUTH_ORIGIN": env("SMARTCAR_AUTH_ORIGIN", default=f"{SIMULATOR_ORIGIN}/oauth/token"),
    "API_ORIGIN": env("SMARTCAR_API_ORIGIN", default=SIMULATOR_ORIGIN),
    "MANAGEMENT_API_ORIGIN": env("SMARTCAR_MANAGEMENT_API_ORIGIN", default=SIMULATOR_ORIGIN),
    "MANAGEMENT_TOKEN": env("SMARTCAR_MANAGEMENT_TOKEN", default="demo-management-token"),
    "ENCRYPTION_KEYS": env.list("SMARTCAR_ENCRYPTION_KEYS", default=None) or [_demo_encryption_key()],
}

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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_smartcar": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")}},
}

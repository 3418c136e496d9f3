"""System checks (``manage.py check``) that catch configuration mistakes before the first user connects a car.

Ids are stable: ``django_smartcar.E001``... can be silenced with ``SILENCED_SYSTEM_CHECKS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from . import crypto
from .conf import ALL_SCOPES, MODES, UNIT_SYSTEMS, smartcar_settings

_DOCS = "See the Settings section of django-smartcar's README."


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    errors += _check_credentials()
    errors += _check_encryption_keys()
    errors += _check_scope()
    errors += _check_redirect_uri()
    errors += _check_mode()
    return errors


def _check_credentials() -> list:
    missing = [name for name in ("CLIENT_ID", "CLIENT_SECRET") if not getattr(smartcar_settings, name)]
    if not missing:
        return []
    return [
        Error(
            f"Smartcar credentials are missing: {', '.join(missing)}.",
            hint='Set SMARTCAR["CLIENT_ID"] and SMARTCAR["CLIENT_SECRET"] (or the SMARTCAR_CLIENT_ID and '
            "SMARTCAR_CLIENT_SECRET environment variables) to your application's values from the Smartcar "
            "dashboard.",
            id="django_smartcar.E001",
        )
    ]


def _check_encryption_keys() -> list:
    if not crypto.configured_keys():
        return [
            Error(
                "No encryption key for Smartcar tokens.",
                hint='Set SMARTCAR["ENCRYPTION_KEYS"] (or SMARTCAR_ENCRYPTION_KEYS) to a list of Fernet keys, '
                'newest first. Make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"',
                id="django_smartcar.E002",
            )
        ]
    try:
        crypto.get_fernet()
    except crypto.EncryptionKeyError as exc:
        return [
            Error(
                str(exc),
                hint="Each key must be 32 url-safe base64-encoded bytes, as made by Fernet.generate_key().",
                id="django_smartcar.E003",
            )
        ]
    return []


def _check_scope() -> list:
    scope = smartcar_settings.SCOPE
    if isinstance(scope, str) or not all(isinstance(item, str) for item in scope or []):
        return [
            Error(
                'SMARTCAR["SCOPE"] must be a list of permission names.',
                hint=f"For example {list(ALL_SCOPES[:3])}.",
                id="django_smartcar.E004",
            )
        ]
    unknown = [item for item in scope if item not in ALL_SCOPES]
    if unknown:
        return [
            Error(
                f"Unknown Smartcar permissions in SCOPE: {', '.join(unknown)}.",
                hint=f"Known permissions: {', '.join(ALL_SCOPES)}.",
                id="django_smartcar.E004",
            )
        ]
    return []


def _check_redirect_uri() -> list:
    uri = smartcar_settings.REDIRECT_URI
    if uri:
        if not str(uri).startswith(("https://", "http://")):
            return [
                Error(
                    f"SMARTCAR['REDIRECT_URI'] is not an absolute http(s) URL: {uri!r}.",
                    hint="Use the full callback URL registered with Smartcar, e.g. "
                    "https://example.com/smartcar/callback/.",
                    id="django_smartcar.E005",
                )
            ]
        return []
    try:
        reverse(smartcar_settings.REDIRECT_URL_NAME)
    except NoReverseMatch:
        return [
            Error(
                f"The Smartcar callback URL name {smartcar_settings.REDIRECT_URL_NAME!r} does not resolve.",
                hint='Include django_smartcar.urls in your URLconf (path("smartcar/", '
                'include("django_smartcar.urls"))), or set SMARTCAR["REDIRECT_URI"].',
                id="django_smartcar.E005",
            )
        ]
    return []


def _check_mode() -> list:
    errors: list = []
    mode = smartcar_settings.MODE
    if mode not in MODES:
        errors.append(
            Error(
                f"SMARTCAR['MODE'] is {mode!r}.",
                hint=f"Use one of {', '.join(MODES)}.",
                id="django_smartcar.E006",
            )
        )
    elif mode != "live" and not settings.DEBUG:
        errors.append(
            Warning(
                f"Smartcar runs in {mode} mode while DEBUG is off.",
                hint='A production site connects real cars with SMARTCAR["MODE"] = "live".',
                id="django_smartcar.W001",
            )
        )
    if smartcar_settings.UNIT_SYSTEM not in UNIT_SYSTEMS:
        errors.append(
            Error(
                f"SMARTCAR['UNIT_SYSTEM'] is {smartcar_settings.UNIT_SYSTEM!r}.",
                hint=f"Use one of {', '.join(UNIT_SYSTEMS)}.",
                id="django_smartcar.E007",
            )
        )
    return errors


@register(Tags.database)
def check_stored_tokens_decrypt(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """A removed key makes stored tokens unreadable; say so at deploy time, not at a user's request."""
    if not databases:
        return []
    from .models import SmartcarAccount

    errors: list = []
    for alias in databases:
        account = (
            SmartcarAccount.objects.using(alias)
            .exclude(refresh_token_encrypted="")
            .order_by("-updated_at")
            .only("pk", "refresh_token_encrypted")
            .first()
        )
        if account is None:
            continue
        try:
            crypto.decrypt(account.refresh_token_encrypted)
        except crypto.EncryptionKeyError:
            errors.append(
                Error(
                    f"Stored Smartcar tokens in database {alias!r} cannot be decrypted with the configured keys.",
                    hint='Put the key they were encrypted with back into SMARTCAR["ENCRYPTION_KEYS"] (after the '
                    "new one), then run manage.py smartcar_reencrypt_tokens.",
                    id="django_smartcar.E008",
                )
            )
    return errors


# kombu's visibility timeouts when ``broker_transport_options`` leaves it out.
DEFAULT_VISIBILITY_TIMEOUTS = {"redis": 3600, "rediss": 3600, "sentinel": 3600, "sqs": 1800}


@register()
def check_broker_visibility_timeout(app_configs: Any = None, **kwargs: Any) -> list:
    """W005: Redis and SQS redeliver an unacknowledged task after the visibility timeout, and the rotation task
    is acknowledged late, after its retries' countdowns: a shorter timeout delivers it again while it waits."""
    try:
        from celery import current_app
    except ImportError:  # Celery is optional
        return []
    return visibility_timeout_warnings(current_app.conf)


def visibility_timeout_warnings(conf: Any) -> list:
    urls = conf.broker_url or ""
    url = str(urls[0] if isinstance(urls, list | tuple) and urls else urls)
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in DEFAULT_VISIBILITY_TIMEOUTS:
        return []
    options = conf.broker_transport_options or {}
    timeout = float(options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUTS[scheme]))
    longest_countdown = float(smartcar_settings.RETRY_BACKOFF) * 2 ** max(
        int(smartcar_settings.TASK_MAX_RETRIES) - 1, 0
    )
    longest_exchange = smartcar_settings.TOKEN_EXCHANGE_RETRY_WINDOW.total_seconds() + float(
        smartcar_settings.REQUEST_TIMEOUT
    )
    needed = longest_countdown + longest_exchange
    if timeout >= needed:
        return []
    return [
        Warning(
            f"The Celery broker's visibility_timeout ({timeout:g} s) is shorter than a token rotation task can "
            f"legitimately stay unacknowledged ({needed:g} s: its longest retry countdown plus one exchange).",
            hint="The broker would deliver waiting rotation tasks again and again. Leave "
            "broker_transport_options['visibility_timeout'] at its default (Redis: 3600) or set it to at least "
            f"{needed:g} s; recovery from a killed worker does not depend on it (see the Celery section of "
            "django-smartcar's README).",
            id="django_smartcar.W005",
        )
    ]

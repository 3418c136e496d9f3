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
    errors += _check_throttle_cache()
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


# Cache backends whose counts are not shared between server processes (or not kept at all).
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _check_throttle_cache() -> list:
    alias = smartcar_settings.THROTTLE_CACHE
    configured = getattr(settings, "CACHES", {})
    if alias not in configured:
        return [
            Error(
                f"SMARTCAR['THROTTLE_CACHE'] is {alias!r}, which is not in CACHES.",
                hint=f"Use one of {', '.join(map(repr, configured))}, or add that cache to CACHES.",
                id="django_smartcar.E014",
            )
        ]
    backend = configured[alias].get("BACKEND", "")
    if backend in PER_PROCESS_CACHES and not settings.DEBUG:
        return [
            Warning(
                f"The API's command throttle counts in cache {alias!r} ({backend.rsplit('.', 1)[-1]}), which "
                "is not shared between server processes: each process lets the full rate through.",
                hint='Point SMARTCAR["THROTTLE_CACHE"] at a shared cache (Redis, Memcached or '
                "DatabaseCache) in CACHES.",
                id="django_smartcar.W006",
            )
        ]
    return []


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

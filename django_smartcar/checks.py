"""System checks (``manage.py check``) that catch configuration mistakes before the first user connects a car.

Ids are stable: ``django_smartcar.E001``... can be silenced with ``SILENCED_SYSTEM_CHECKS``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Field
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from . import conf, crypto
from .client import config as client_config
from .client import permissions
from .client.redaction import redact_url
from .conf import ALL_SCOPES, MODES, UNIT_SYSTEMS, smartcar_settings

_DOCS = "See the Settings section of django-smartcar's README."


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        conf.user_settings()
    except ImproperlyConfigured as exc:
        return [
            Error(str(exc), hint='settings.SMARTCAR = {"CLIENT_ID": ..., ...}', id="django_smartcar.E010")
        ]
    errors: list[CheckMessage] = _check_unknown_names()
    type_errors, mistyped = _check_types()
    errors += type_errors
    # A setting of the wrong type cannot be checked further (reading it raises ImproperlyConfigured).
    for names, check in (
        (("CLIENT_ID", "CLIENT_SECRET"), _check_credentials),
        (("ENCRYPTION_KEYS",), _check_encryption_keys),
        (("SCOPE",), _check_scope),
        (("REDIRECT_URI", "REDIRECT_URL_NAME"), _check_redirect_uri),
        (("MODE", "UNIT_SYSTEM"), _check_mode),
        (ORIGIN_SETTINGS, _check_origins),
        (("THROTTLE_CACHE",), _check_throttle_cache),
        (("CONNECT_SUCCESS_URL",), _check_success_url),
        (("API_VERSION",), _check_api_version),
        (("API_VERSION", "API_CLIENT_ID", "API_CLIENT_SECRET"), _check_api_credentials),
        (("CLIENT_ID", "API_CLIENT_ID"), _check_api_client_id),
    ):
        if not mistyped.intersection(names):
            errors += check()
    return errors + _check_login_url()


ORIGIN_SETTINGS = (
    "CONNECT_ORIGIN",
    "AUTH_ORIGIN",
    "API_ORIGIN",
    "MANAGEMENT_API_ORIGIN",
    "IAM_ORIGIN",
    "VEHICLE_API_V3_ORIGIN",
    "MANAGEMENT_API_V3_ORIGIN",
)
# API V3's origins are hosts: the client adds ``/oauth2/token`` and ``/v3/...`` itself.
V3_ORIGIN_SETTINGS = ("IAM_ORIGIN", "VEHICLE_API_V3_ORIGIN", "MANAGEMENT_API_V3_ORIGIN")


def _check_unknown_names() -> list[CheckMessage]:
    """A misspelled key is otherwise ignored silently, and its setting quietly keeps its default."""
    errors: list[CheckMessage] = []
    for name, closest in conf.unknown_setting_names():
        errors.append(
            Error(
                f"Unknown django-smartcar setting SMARTCAR[{name!r}]: it is ignored.",
                hint=f"Did you mean {closest!r}?"
                if closest
                else f"Known settings: {', '.join(sorted(conf.DEFAULTS))}.",
                id="django_smartcar.E009",
            )
        )
    return errors


def _check_types() -> tuple[list[CheckMessage], set[str]]:
    errors: list[CheckMessage] = []
    mistyped: set[str] = set()
    for name in conf.DEFAULTS:
        problem = conf.type_problem(name, *conf.resolve(name))
        if problem:
            mistyped.add(name)
            errors.append(
                Error(
                    problem,
                    hint="Durations are datetime.timedelta values (e.g. timedelta(minutes=5)), times in seconds "
                    "are numbers. " + _DOCS,
                    id="django_smartcar.E010",
                )
            )
    return errors, mistyped


def _check_origins() -> list[CheckMessage]:
    """Smartcar's origins must be absolute http(s) URLs without credentials: ``user:pass@`` in one would be sent
    as Basic authentication in place of the app's own, and would end up in error messages."""
    errors: list[CheckMessage] = []
    for name in ORIGIN_SETTINGS:
        value = getattr(smartcar_settings, name)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "is not an absolute http(s) URL"
        elif parts.username is not None or parts.password is not None:
            problem = "carries credentials (user:password@)"
        elif name in V3_ORIGIN_SETTINGS and parts.path.rstrip("/").rsplit("/", 1)[-1] in ("v3", "oauth2"):
            # The client appends /v3/... or /oauth2/token: this one would be asked for /v3/v3/connections.
            problem = "ends with a path the client adds itself (/v3 or /oauth2)"
        else:
            continue
        errors.append(
            Error(
                f"SMARTCAR[{name!r}] {problem}: {redact_url(value)!r}.",
                hint=f"For example {conf.DEFAULTS[name]!r}, or the simulator's http://127.0.0.1:<port>"
                + (
                    " (a host only: the client adds /v3/... and /oauth2/token)."
                    if name in V3_ORIGIN_SETTINGS
                    else "."
                ),
                id="django_smartcar.E011",
            )
        )
    return errors


def _check_credentials() -> list[CheckMessage]:
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


# The values API_VERSION takes: the API that new connections use.
API_VERSIONS = (client_config.API_VERSION, client_config.V3_API_VERSION)
# API V3's API client ids (dashboard, "API credentials") start with this; the Application ID is a UUID.
API_CLIENT_ID_PREFIX = "client_"
_API_CREDENTIALS_HINT = (
    'Set SMARTCAR["API_CLIENT_ID"] and SMARTCAR["API_CLIENT_SECRET"] (or the SMARTCAR_API_CLIENT_ID and '
    "SMARTCAR_API_CLIENT_SECRET environment variables) to the API credentials of your application in the "
    'Smartcar dashboard (the client id starts with "client_"); CLIENT_ID stays the Application ID.'
)


def _check_api_version() -> list[CheckMessage]:
    """E016: the API of new connections; anything else would leave the version of new accounts undecided."""
    version = smartcar_settings.API_VERSION
    if version in API_VERSIONS:
        return []
    return [
        Error(
            f"SMARTCAR['API_VERSION'] is {version!r}.",
            hint=f'Use "{client_config.V3_API_VERSION}" (API V3, Smartcar\'s recommendation for new sites) or '
            f'"{client_config.API_VERSION}" (per-vehicle tokens, deprecated by Smartcar).',
            id="django_smartcar.E016",
        )
    ]


def _missing_api_credentials() -> list[str]:
    return [name for name in ("API_CLIENT_ID", "API_CLIENT_SECRET") if not getattr(smartcar_settings, name)]


def _check_api_credentials() -> list[CheckMessage]:
    """E017: new connections use API V3, which reaches every vehicle with the application token that only the
    API credentials can get: without them each V3 connection would fail at its first request."""
    missing = _missing_api_credentials()
    if smartcar_settings.API_VERSION != client_config.V3_API_VERSION or not missing:
        return []
    return [
        Error(
            f"SMARTCAR['API_VERSION'] is \"3\" (API V3) but its API credentials are missing: {', '.join(missing)}.",
            hint=_API_CREDENTIALS_HINT + ' Or set SMARTCAR["API_VERSION"] = "2.0" to connect through v2.0.',
            id="django_smartcar.E017",
        )
    ]


def _check_api_client_id() -> list[CheckMessage]:
    """W009 / W010: the two ids are easily swapped. Connect takes the Application ID (CLIENT_ID) and answers an
    API client id with "Invalid parameter client_id"; IAM takes the API client id (API_CLIENT_ID) and refuses
    the Application ID."""
    client_id = smartcar_settings.CLIENT_ID
    api_client_id = smartcar_settings.API_CLIENT_ID
    if not api_client_id:
        return []
    if api_client_id == client_id or (client_id or "").startswith(API_CLIENT_ID_PREFIX):
        return [
            Warning(
                "SMARTCAR['CLIENT_ID'] "
                + (
                    "is the same as SMARTCAR['API_CLIENT_ID']"
                    if api_client_id == client_id
                    else f"starts with {API_CLIENT_ID_PREFIX!r}, like an API client id"
                )
                + ": Connect needs the Application ID there.",
                hint="CLIENT_ID is the Application ID (a UUID, the dashboard's Application ID or v2 client id), "
                'which Connect takes; API_CLIENT_ID is the V3 API client id ("client_..."), which IAM takes.',
                id="django_smartcar.W010",
            )
        ]
    if not api_client_id.startswith(API_CLIENT_ID_PREFIX):
        return [
            Warning(
                f"SMARTCAR['API_CLIENT_ID'] does not start with {API_CLIENT_ID_PREFIX!r}: Smartcar's IAM is "
                "likely to refuse it (401 invalid_client) and no V3 request would succeed.",
                hint="Copy the client id of your application's API credentials from the Smartcar dashboard "
                '(it starts with "client_"), not the Application ID (that one is CLIENT_ID).',
                id="django_smartcar.W009",
            )
        ]
    return []


def _check_encryption_keys() -> list[CheckMessage]:
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


def _check_scope() -> list[CheckMessage]:
    """Every item a documented Smartcar permission, optionally ``required:`` (the owner cannot untick it)."""
    scope = smartcar_settings.SCOPE
    if isinstance(scope, str) or not all(isinstance(item, str) for item in scope or []):
        return [
            Error(
                'SMARTCAR["SCOPE"] must be a list of permission names.',
                hint=f"For example {['required:read_vehicle_info', *ALL_SCOPES[1:3]]}.",
                id="django_smartcar.E004",
            )
        ]
    errors: list[CheckMessage] = []
    for item in permissions.unknown_scope_items(scope):
        closest = permissions.closest_scope_item(item)
        errors.append(
            Error(
                f'Unknown Smartcar permission in SMARTCAR["SCOPE"]: {item!r}.',
                hint=f"Did you mean {closest!r}?"
                if closest
                else f"Smartcar's permissions: {', '.join(permissions.PERMISSIONS)}; each may be prefixed "
                f"with {permissions.REQUIRED_PREFIX!r} so that the owner cannot untick it.",
                id="django_smartcar.E004",
            )
        )
    return errors


def _check_redirect_uri() -> list[CheckMessage]:
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


def _check_mode() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
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


def _is_page_of_this_site(value: Any) -> bool:
    """Whether a URL setting (a URL name, a path, or an absolute URL) names a page of this site. An absolute URL
    on a host (a central sign-in service) cannot be checked from here and passes; a URL name such as
    ``garage:home`` is not taken for one."""
    if urlsplit(str(value)).netloc:
        return True
    try:
        path = urlsplit(str(resolve_url(value))).path
        resolve(path or "/")
    except (NoReverseMatch, Resolver404):
        return False
    return True


def _check_login_url() -> list[CheckMessage]:
    """W007: the connect view sends signed-out users to settings.LOGIN_URL; Django's default,
    /accounts/login/, is a 404 on a site without that page."""
    login_url = settings.LOGIN_URL
    if _is_page_of_this_site(login_url):
        return []
    return [
        Warning(
            f"settings.LOGIN_URL ({str(login_url)!r}) is not a page of this site: django-smartcar's Connect view "
            "sends signed-out users there.",
            hint='Set LOGIN_URL to your sign-in page\'s URL name or path, e.g. LOGIN_URL = "admin:login" on a '
            "site whose only sign-in is the admin's.",
            id="django_smartcar.W007",
        )
    ]


def _check_success_url() -> list[CheckMessage]:
    """W008: after Connect (or a disconnect) without a ``next``, users land on CONNECT_SUCCESS_URL; a page that
    does not exist loses the success message."""
    value = smartcar_settings.CONNECT_SUCCESS_URL
    if _is_page_of_this_site(value):
        return []
    return [
        Warning(
            f"SMARTCAR['CONNECT_SUCCESS_URL'] ({value!r}) is not a page of this site: users would land on a "
            "404 after connecting a vehicle.",
            hint="Set it to a URL name or path of this site, or leave it out: the default, "
            "\"django_smartcar:connections\", is the app's own page listing the user's vehicles.",
            id="django_smartcar.W008",
        )
    ]


# E008 decrypts a bounded sample, not every row: the OLDEST-updated accounts (they carry the oldest keys, the
# ones most likely to have been removed) and the newest, both tokens of each, within a time budget.
DECRYPT_SAMPLE_OLDEST = 50
DECRYPT_SAMPLE_NEWEST = 10
DECRYPT_CHECK_SECONDS = 5.0
# Cache backends whose counts are not shared between server processes (or not kept at all).
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _check_throttle_cache() -> list[CheckMessage]:
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
def check_stored_tokens_decrypt(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """A removed key makes stored tokens unreadable; say so at deploy time, not at a user's request.

    Django runs database checks before ``migrate``: on a database whose tables or columns a pending migration
    still has to add, the check is skipped quietly, and no database error ever escapes it.
    """
    if not databases:
        return []
    errors: list[CheckMessage] = []
    for alias in databases:
        errors += _check_tokens_decrypt_in(alias)
    return errors


def _check_tokens_decrypt_in(alias: str) -> list[CheckMessage]:
    from .models import SmartcarAccount

    try:
        crypto.get_fernet()
    except (crypto.EncryptionKeyError, ImproperlyConfigured):
        return []  # no usable key at all: E002 / E003 / E010 already say so
    meta = SmartcarAccount._meta
    wanted = [meta.pk, *(meta.get_field(name) for name in _TOKEN_CHECK_FIELDS)]
    # All concrete columns; the test narrows the types (a relation or a field without a column has none).
    columns = [field.column for field in wanted if isinstance(field, Field) and field.column]
    try:
        with _time_limited(alias):
            if not _table_has_columns(alias, meta.db_table, columns):
                return []
            sample = _token_sample(alias)
    except DatabaseError as exc:
        # The driver's own class says what happened (QueryCanceled, InsufficientPrivilege...); its message could
        # name the server, so it is left out.
        reason = type(exc.__cause__ or exc).__name__
        return [
            Warning(
                f"Stored Smartcar tokens in database {alias!r} could not be checked ({reason}).",
                hint="Run manage.py check --database again once the database answers; E008 is skipped until then.",
                id="django_smartcar.W002",
            )
        ]
    deadline = time.monotonic() + DECRYPT_CHECK_SECONDS
    checked = unreadable = 0
    for ciphertexts in sample:
        if time.monotonic() > deadline:
            break
        checked += 1
        if not _all_decrypt(ciphertexts):
            unreadable += 1
    if not unreadable:
        return []
    return [
        Error(
            f"Stored Smartcar tokens in database {alias!r} cannot be decrypted with the configured keys: "
            f"{unreadable} of the {checked} accounts checked (the oldest- and newest-updated ones).",
            hint='Put the key they were encrypted with back into SMARTCAR["ENCRYPTION_KEYS"] (after the '
            "new one), then run manage.py smartcar_reencrypt_tokens.",
            id="django_smartcar.E008",
        )
    ]


@register(Tags.database)
def check_v3_accounts_have_credentials(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """E018: accounts already on API V3 (connected through it, or migrated) are reached with the application
    token alone, so the API credentials stay required even when new connections use v2.0 again. Skipped, like
    E008, on a database a pending migration has yet to bring up to date."""
    try:
        missing = _missing_api_credentials()
        version = smartcar_settings.API_VERSION
    except ImproperlyConfigured:
        return []  # E010 says so
    if not databases or not missing or version == client_config.V3_API_VERSION:
        return []  # nothing missing, or E017 already asks for them
    errors: list[CheckMessage] = []
    for alias in databases:
        count = _count_v3_accounts(alias)
        if count:
            errors.append(
                Error(
                    f"Database {alias!r} has {count} Smartcar account(s) on API V3 but its API credentials "
                    f"are missing: {', '.join(missing)}. Those accounts' vehicles cannot be reached.",
                    hint=_API_CREDENTIALS_HINT,
                    id="django_smartcar.E018",
                )
            )
    return errors


def _count_v3_accounts(alias: str) -> int:
    """How many accounts use API V3 in ``alias`` (0 when its table predates the column, or it cannot be read:
    W002 reports an unreachable database)."""
    from .models import SmartcarAccount

    meta = SmartcarAccount._meta
    try:
        with _time_limited(alias):
            if not _table_has_columns(alias, meta.db_table, ["api_version"]):
                return 0
            return (
                SmartcarAccount.objects.using(alias)
                .filter(api_version=SmartcarAccount.ApiVersion.V3)
                .exclude(status=SmartcarAccount.Status.DISCONNECTED)
                .count()
            )
    except DatabaseError:
        return 0


_TOKEN_CHECK_FIELDS = ("access_token_encrypted", "refresh_token_encrypted", "updated_at")


def _table_has_columns(alias: str, table: str, columns: list[str]) -> bool:
    """Whether ``table`` exists with every one of ``columns`` (a pending migration may add either)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            return False
        present = {column.name for column in connection.introspection.get_table_description(cursor, table)}
    return set(columns) <= present


@contextlib.contextmanager
def _time_limited(alias: str) -> Iterator[None]:
    """On PostgreSQL, no statement inside may take longer than DECRYPT_CHECK_SECONDS: on a large table, or one
    another session has locked, the check gives up (a DatabaseError, reported as W002) instead of hanging.

    A transaction only where it bounds the queries: on SQLite it would take the write lock for a read.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        # set_config(..., true) lasts until the end of the transaction; it is put back as found afterwards, for
        # a caller whose transaction this one is nested in (on an error, the rollback puts it back).
        cursor.execute("SELECT current_setting('statement_timeout')")
        (previous_timeout,) = cursor.fetchone()
        limit = f"{int(DECRYPT_CHECK_SECONDS * 1000)}ms"
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [limit])
        yield
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous_timeout])


def _token_sample(alias: str) -> list[tuple[str, str]]:
    """(access, refresh) ciphertexts of the oldest- and newest-updated accounts that hold tokens."""
    from .models import SmartcarAccount

    accounts = SmartcarAccount.objects.using(alias).exclude(refresh_token_encrypted="")
    columns = ("pk", "access_token_encrypted", "refresh_token_encrypted")
    oldest = list(accounts.order_by("updated_at", "pk").values_list(*columns)[:DECRYPT_SAMPLE_OLDEST])
    newest = list(accounts.order_by("-updated_at", "-pk").values_list(*columns)[:DECRYPT_SAMPLE_NEWEST])
    by_pk = {pk: (access, refresh) for pk, access, refresh in oldest + newest}
    return list(by_pk.values())


def _all_decrypt(ciphertexts: tuple[str, ...]) -> bool:
    try:
        for ciphertext in ciphertexts:
            if ciphertext:
                crypto.decrypt(ciphertext)
    except crypto.EncryptionKeyError:
        return False
    return True


# kombu's visibility timeouts when ``broker_transport_options`` leaves it out.
DEFAULT_VISIBILITY_TIMEOUTS = {"redis": 3600, "rediss": 3600, "sentinel": 3600, "sqs": 1800}


# The pre-release migrations squashed into 0001_initial (README, "Upgrade notes"), and what each of them added
# that a database which stopped before it lacks (0007 converted stored fractions to percents and added nothing).
PRE_RELEASE_MIGRATIONS: dict[str, tuple[str, str | None]] = {
    "0002_rotation_queued_at": ("django_smartcar_smartcaraccount", "rotation_queued_at"),
    "0003_webhook_event": ("django_smartcar_webhookevent", None),
    "0004_command_retry_after": ("django_smartcar_vehiclecommand", "retry_after"),
    "0005_tokens_exchange_started_at": ("django_smartcar_smartcaraccount", "token_exchange_started_at"),
    "0006_vehicle_percents_and_last_command": ("django_smartcar_vehicle", "last_command_id"),
    "0007_vehicle_percents_data": ("django_smartcar_vehicle", None),
    "0008_vehicle_not_capable": ("django_smartcar_vehicle", "not_capable"),
}


@register(Tags.database)
def check_pre_release_migrations(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """A database migrated from a pre-release clone that stopped part-way has ``0001_initial`` recorded, so the
    squashed migration would never run and the missing columns would fail at the first request: say so before
    ``migrate`` (which runs this check) reports nothing to apply."""
    return [error for alias in databases or () for error in _check_pre_release_migrations_in(alias)]


def _check_pre_release_migrations_in(alias: str) -> list:
    connection = connections[alias]
    try:
        recorder = MigrationRecorder(connection)
        if not recorder.has_table():
            return []
        applied = set(recorder.migration_qs.filter(app="django_smartcar").values_list("name", flat=True))
        # Only a database with nothing recorded after the squash can be a pre-release one.
        if "0001_initial" not in applied or not applied <= {"0001_initial", *PRE_RELEASE_MIGRATIONS}:
            return []
        # Django reads a PostgreSQL table's columns with a query on the table: bounded, as for E008.
        with _time_limited(alias), connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
            missing = []
            for name, (table, column) in PRE_RELEASE_MIGRATIONS.items():
                if table not in tables:
                    missing.append(name)
                elif column is not None:
                    columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
                    if column not in columns:
                        missing.append(name)
    except DatabaseError:
        return []  # an unreachable or locked database: E008's check says so (W002)
    # 0007 leaves no trace in the schema: a database with 0006 recorded but not 0007 still stores fractions.
    if "0006_vehicle_percents_and_last_command" in applied and "0007_vehicle_percents_data" not in applied:
        missing.append("0007_vehicle_percents_data")
    if not missing:
        return []
    return [
        Error(
            f"Database {alias!r} stopped part-way through django-smartcar's pre-release migrations "
            f"({', '.join(sorted(missing))} not applied); the first release's single 0001_initial cannot "
            "finish them.",
            hint="With the django-smartcar code this database was migrated with, run manage.py migrate "
            'django_smartcar 0008, then upgrade (README, "Upgrade notes").',
            id="django_smartcar.E015",
        )
    ]


@register()
def check_broker_visibility_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W005: Redis and SQS redeliver an unacknowledged task after the visibility timeout, and the rotation task
    is acknowledged late, after its retries' countdowns: a shorter timeout delivers it again while it waits."""
    try:
        from celery import current_app
    except ImportError:  # Celery is optional
        return []
    return visibility_timeout_warnings(current_app.conf)


def visibility_timeout_warnings(conf: Any) -> list[CheckMessage]:
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
    from .services.clients import get_timeouts

    token_timeout = get_timeouts().token
    one_request = sum(token_timeout) if isinstance(token_timeout, tuple) else token_timeout
    longest_exchange = smartcar_settings.TOKEN_EXCHANGE_RETRY_WINDOW.total_seconds() + one_request
    # A chunk task (rotate_accounts_tokens): its accounts go through ROTATION_MAX_IN_FLIGHT at a time, each
    # request at worst lasting its whole time-out, and those locked at first get one more turn.
    waves = -(-int(smartcar_settings.ROTATION_CHUNK_SIZE) // int(smartcar_settings.ROTATION_MAX_IN_FLIGHT))
    longest_chunk = (waves + 1) * one_request
    needed = longest_countdown + max(longest_exchange, longest_chunk)
    if timeout >= needed:
        return []
    return [
        Warning(
            f"The Celery broker's visibility_timeout ({timeout:g} s) is shorter than a token rotation task can "
            f"legitimately stay unacknowledged ({needed:g} s: its longest retry countdown plus one exchange, or one "
            "chunk of ROTATION_CHUNK_SIZE accounts).",
            hint="The broker would deliver waiting rotation tasks again and again. Leave "
            "broker_transport_options['visibility_timeout'] at its default (Redis: 3600) or set it to at least "
            f"{needed:g} s; recovery from a killed worker does not depend on it (see the Celery section of "
            "django-smartcar's README).",
            id="django_smartcar.W005",
        )
    ]

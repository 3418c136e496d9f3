"""The site's API V3 application token: one per site, not per process.

API V3 reaches every connection with one application token (client-credentials grant, one hour, no refresh
token). Each web and worker process holds a ``v3.ApplicationToken`` (``application_token()``); they share the
token through the ``ApplicationToken`` row (``DatabaseTokenStore``), encrypted like the accounts' tokens, and
the one that finds it missing or about to expire asks IAM while holding a lock every other process waits on
(``db.process_lock``: a PostgreSQL advisory lock, a lock file beside an SQLite database). The others then read
the token it stored: however many processes run, the site asks IAM once an hour (plus failures).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.signals import setting_changed
from django.db import router, transaction
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone

from .. import client
from ..client import v3
from ..conf import smartcar_settings
from ..crypto import EncryptionKeyError
from ..db import process_lock
from ..exceptions import DjangoSmartcarError
from ..models import ApplicationToken
from .clients import get_origins, get_transport

logger = logging.getLogger(__name__)

# The advisory-lock namespace of application tokens (services.tokens uses its own for accounts).
ADVISORY_LOCK_NAMESPACE = 0x5C7A07
LAST_ERROR_LENGTH = 255


class ApiCredentialsMissing(DjangoSmartcarError):
    """``API_CLIENT_ID`` or ``API_CLIENT_SECRET`` is not set: API V3 cannot be reached (a deployment problem;
    the system checks say so)."""

    def __init__(self) -> None:
        super().__init__(
            'API V3 needs the site\'s API credentials: set SMARTCAR["API_CLIENT_ID"] and '
            'SMARTCAR["API_CLIENT_SECRET"] (or SMARTCAR_API_CLIENT_ID / SMARTCAR_API_CLIENT_SECRET).'
        )


def token_key(client_id: str, iam_origin: str) -> str:
    """The row of one set of API credentials at one IAM: a hash, so the row does not name the client id."""
    return hashlib.sha256(f"{client_id}\n{iam_origin}".encode()).hexdigest()


def describe_token_error(exc: client.SmartcarException) -> str:
    """What ``last_error`` keeps of a failed token request: its class, type or code and HTTP status, never its
    description (IAM's text could quote what was sent)."""
    label = ":".join(part for part in (exc.type, exc.code) if part)
    status = f"HTTP {exc.status_code}" if exc.status_code else ""
    return " ".join(part for part in (type(exc).__name__, label, status) if part)[:LAST_ERROR_LENGTH]


class DatabaseTokenStore:
    """A ``v3.TokenStore`` over one ``ApplicationToken`` row, shared by every process of the site.

    ``locked()`` holds the row's process lock while the token is checked and, when needed, requested and saved;
    a token request that fails inside it is counted and its error recorded (without secrets) on the row.
    """

    def __init__(self, key: str | None = None) -> None:
        # By default the row of the configured API credentials at the configured IAM.
        self.key = key or token_key(str(smartcar_settings.API_CLIENT_ID or ""), get_origins().iam)

    def __repr__(self) -> str:
        return f"DatabaseTokenStore(key={self.key[:8]!r})"

    @property
    def db(self) -> str:
        return router.db_for_write(ApplicationToken)

    def _rows(self) -> Any:
        return ApplicationToken.objects.using(self.db).filter(key=self.key)

    def load(self) -> v3.CachedToken | None:
        row = self._rows().first()
        if row is None or not row.token_encrypted or row.expires_at is None:
            return None
        try:
            token = row.token
        except EncryptionKeyError:
            # None of today's keys reads it (the keys were replaced): a new token is requested, and stored.
            logger.warning("The stored application token cannot be decrypted; requesting a new one")
            return None
        return v3.CachedToken(token, row.expires_at)

    def save(self, token: v3.CachedToken) -> None:
        now = timezone.now()
        with transaction.atomic(using=self.db):
            row, _ = ApplicationToken.objects.using(self.db).get_or_create(key=self.key)
            row.token = token.access_token
            row.expires_at = token.expires_at
            row.obtained_at = now
            row.requests_made = F("requests_made") + 1
            row.last_error = ""
            row.save(
                update_fields=["token_encrypted", "expires_at", "obtained_at", "requests_made", "last_error"]
            )
        logger.info(
            "Obtained the site's API V3 application token (valid until %s)", token.expires_at.isoformat()
        )

    def _record_failure(self, exc: client.SmartcarException) -> None:
        self._rows().update(requests_made=F("requests_made") + 1, last_error=describe_token_error(exc))

    @contextmanager
    def locked(self) -> Iterator[None]:
        db = self.db
        row, _ = ApplicationToken.objects.using(db).get_or_create(key=self.key)
        with process_lock(db, ApplicationToken, row.pk, namespace=ADVISORY_LOCK_NAMESPACE):
            try:
                yield
            except client.SmartcarException as exc:
                # Inside the lock only the token request talks to Smartcar: this is IAM's refusal or silence.
                logger.warning("The API V3 application token request failed: %s", describe_token_error(exc))
                self._record_failure(exc)
                raise


_tokens: dict[tuple[Any, ...], v3.ApplicationToken] = {}
_tokens_lock = threading.Lock()


def application_token() -> v3.ApplicationToken:
    """This process's ``v3.ApplicationToken`` for the configured API credentials, bound to the site's stored
    token: every V3 call of the process shares it (its memory copy first, then the database row)."""
    client_id = smartcar_settings.API_CLIENT_ID
    client_secret = smartcar_settings.API_CLIENT_SECRET
    if not client_id or not client_secret:
        raise ApiCredentialsMissing()
    transport = get_transport()
    origins = get_origins()
    renew_before = smartcar_settings.APP_TOKEN_RENEW_BEFORE
    secret_hash = hashlib.sha256(str(client_secret).encode()).hexdigest()
    cache_key = (client_id, secret_hash, origins, id(transport), renew_before)
    with _tokens_lock:
        token = _tokens.get(cache_key)
        if token is None:
            token = _tokens[cache_key] = v3.ApplicationToken(
                str(client_id),
                str(client_secret),
                transport=transport,
                origins=origins,
                store=DatabaseTokenStore(token_key(str(client_id), origins.iam)),
                renew_before=renew_before,
            )
        return token


def forget_application_tokens() -> None:
    """Drop this process's ``v3.ApplicationToken`` objects (the stored token stays): the next call builds them
    anew from the settings. Done when the ``SMARTCAR`` setting changes (tests)."""
    with _tokens_lock:
        _tokens.clear()


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting == "SMARTCAR":
        forget_application_tokens()

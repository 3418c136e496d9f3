"""Authorization codes, access tokens and refresh tokens, with Smartcar's lifetimes and rotation rules.

Only sha256 digests are stored; the readable values exist in the HTTP answer and nowhere else.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from . import clock
from .models import AccessToken, Application, AuthorizationCode, Grant, RefreshToken

CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(hours=2)
REFRESH_TOKEN_LIFETIME = timedelta(days=60)
# A rotated refresh token keeps working this long, so a client that lost the answer can retry once: 10 minutes
# in the current reference [A/authorization/refreshing-access-token.md], 1 minute in older pages; the setting
# SMARTCAR_SIMULATOR["REFRESH_TOKEN_GRACE_SECONDS"] picks another.
DEFAULT_REFRESH_TOKEN_GRACE = timedelta(minutes=10)


def refresh_token_grace() -> timedelta:
    """The used refresh token's grace window, read from settings at every exchange."""
    from .faults import simulator_settings

    configured = simulator_settings().get("REFRESH_TOKEN_GRACE_SECONDS")
    if configured is None:
        return DEFAULT_REFRESH_TOKEN_GRACE
    if not isinstance(configured, int | float) or isinstance(configured, bool) or configured < 0:
        raise ImproperlyConfigured(
            'SMARTCAR_SIMULATOR["REFRESH_TOKEN_GRACE_SECONDS"] must be a number of seconds, 0 or more.'
        )
    return timedelta(seconds=configured)


class OAuthError(Exception):
    """An OAuth failure, answered as ``{"error", "error_description"}`` with ``status``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


# Smartcar's token errors quote what was sent (python-sdk tests/e2e/test_exception.py): HTTP 400, and the
# description carries the code or refresh token, so a client must never log or echo it.
def invalid_code(code: str) -> OAuthError:
    return OAuthError("invalid_grant", f"Invalid code: {code}.")


def invalid_refresh_token(refresh_token: str) -> OAuthError:
    return OAuthError("invalid_grant", f"Invalid refresh_token: {refresh_token}.")


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def issue_code(grant: Grant, redirect_uri: str) -> str:
    code = new_token()
    AuthorizationCode.objects.create(
        code_hash=digest(code),
        grant=grant,
        redirect_uri=redirect_uri,
        expires_at=clock.now() + CODE_LIFETIME,
    )
    return code


def issue_tokens(grant: Grant, now: datetime | None = None) -> dict[str, str | int]:
    """A fresh access and refresh token for ``grant``, shaped like the token endpoint's answer. ``now``: the
    caller's reading of the simulator's clock (one query less per exchange)."""
    now = now or clock.now()
    access_token, refresh_token = new_token(), new_token()
    AccessToken.objects.create(
        token_hash=digest(access_token), grant=grant, expires_at=now + ACCESS_TOKEN_LIFETIME
    )
    RefreshToken.objects.create(
        token_hash=digest(refresh_token), grant=grant, expires_at=now + REFRESH_TOKEN_LIFETIME
    )
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_token": refresh_token,
    }


def exchange_code(application: Application, code: str, redirect_uri: str | None) -> dict[str, str | int]:
    """Trade a single-use authorization code for tokens."""
    if not code:
        raise OAuthError("invalid_request", "The code parameter is required.")
    now = clock.now()
    # No join in this filter: PostgreSQL re-checks a waiting UPDATE's conditions on the row itself only.
    codes = AuthorizationCode.objects.filter(code_hash=digest(code))
    with transaction.atomic():
        # Claim the code with a write before reading it: of two concurrent exchanges exactly one wins, and
        # SQLite takes its write lock up front instead of failing a read-then-write upgrade.
        claimed = codes.filter(used_at__isnull=True).update(used_at=now)
        stored = codes.select_related("grant").first()
        # Unknown, another application's, used or expired: one answer, which quotes the code [S7.9].
        if stored is None or stored.grant.application_id != application.pk or not claimed:
            raise invalid_code(code)
        if stored.expires_at <= now:
            raise invalid_code(code)
        if redirect_uri is not None and redirect_uri != stored.redirect_uri:
            raise OAuthError("invalid_grant", f"Unauthorized redirect_uri: {redirect_uri}")
        return issue_tokens(stored.grant, now)


def exchange_refresh_token(application: Application, refresh_token: str) -> dict[str, str | int]:
    """Rotate a refresh token: new tokens now, and the old one refused once its grace window has passed."""
    if not refresh_token:
        raise OAuthError("invalid_request", "The refresh_token parameter is required.")
    now = clock.now()
    tokens = RefreshToken.objects.filter(token_hash=digest(refresh_token))
    with transaction.atomic():
        # Mark the first use with a write before reading (see exchange_code for why write first, no join).
        tokens.filter(rotated_at__isnull=True).update(rotated_at=now)
        stored = tokens.select_related("grant").first()
        if stored is None or stored.grant.application_id != application.pk or stored.expires_at <= now:
            raise invalid_refresh_token(refresh_token)
        # Never None here: the update above stamped a first use.
        first_used_at = stored.rotated_at or now
        if first_used_at + refresh_token_grace() <= now:
            raise invalid_refresh_token(refresh_token)
        return issue_tokens(stored.grant, now)


def grant_for_access_token(access_token: str) -> Grant | None:
    """The grant behind a live access token, or None for an unknown or expired one."""
    stored = (
        AccessToken.objects.select_related("grant", "grant__application", "grant__user")
        .filter(token_hash=digest(access_token), expires_at__gt=clock.now())
        .first()
    )
    return stored.grant if stored else None

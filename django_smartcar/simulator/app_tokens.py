"""API V3's application tokens: the client-credentials grant of ``POST /oauth2/token``.

One hour, no refresh token [tok, auth-ov]: a client asks again. Issued for the application's API credentials
(``Application.api_client_id`` and the digest of its secret), stored as sha256 digests only.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.http import HttpRequest

from . import clock, errors
from .models import Application, AppToken
from .tokens import digest, new_token

APP_TOKEN_LIFETIME = timedelta(hours=1)


def application_for_credentials(client_id: str, client_secret: str) -> Application | None:
    """The application whose API credentials these are (never its v2 client id and secret)."""
    if not client_id or not client_secret:
        return None
    application = Application.objects.filter(api_client_id=client_id).first()
    if application is None or not application.api_client_secret_hash:
        return None
    if not hmac.compare_digest(application.api_client_secret_hash, digest(client_secret)):
        return None
    return application


def issue_app_token(application: Application) -> dict[str, Any]:
    """A fresh application token, shaped like the IAM token endpoint's answer."""
    token = new_token()
    AppToken.objects.create(
        token_hash=digest(token), application=application, expires_at=clock.now() + APP_TOKEN_LIFETIME
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int(APP_TOKEN_LIFETIME.total_seconds()),
    }


def application_for_app_token(token: str) -> Application | None:
    """The application behind a live application token, or None for an unknown or expired one."""
    if not token:
        return None
    stored = (
        AppToken.objects.select_related("application")
        .filter(token_hash=digest(token), expires_at__gt=clock.now())
        .first()
    )
    return stored.application if stored else None


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def require_application(request: HttpRequest) -> Application:
    """The application whose token came as ``Authorization: Bearer <app token>``, or 401 AUTHENTICATION."""
    application = application_for_app_token(bearer_token(request) or "")
    if application is None:
        raise errors.authentication_error()
    return application

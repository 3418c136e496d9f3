"""Who is calling: client credentials, bearer tokens and management tokens from request headers."""

from __future__ import annotations

import base64
import binascii
import hmac

from django.http import HttpRequest

from ..models import Application
from ..tokens import digest


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    return (user, password) if separator else None


def client_application(request: HttpRequest) -> Application | None:
    """The application whose client id and secret came in HTTP Basic auth."""
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    client_id, client_secret = credentials
    application = Application.objects.filter(client_id=client_id).first()
    if application is None or not hmac.compare_digest(application.client_secret_hash, digest(client_secret)):
        return None
    return application


def management_application(request: HttpRequest) -> Application | None:
    """The application whose management token came as ``Bearer <amt>`` or Basic ``default:<amt>``."""
    token = bearer_token(request)
    if token is None:
        credentials = basic_credentials(request)
        token = credentials[1] if credentials else None
    return Application.objects.filter(management_token=token).first() if token else None

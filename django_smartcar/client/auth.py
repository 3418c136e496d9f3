"""Smartcar Connect and the token endpoint: building the consent URL and exchanging codes and tokens."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from . import api
from .config import (
    ALL_SCOPES,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    CONNECT_MODES,
    REDIRECT_URI_ENV,
    Flags,
    Origins,
    format_flags,
)
from .permissions import validate_scope
from .results import Access, Compatibility
from .transport import TOKEN, ApiResponse, PreparedRequest, Transport, shared_transport

# format_flags and Flags moved to config (api needs them too); still importable from here.
__all__ = ["AUTH_URL_OPTIONS", "AuthClient", "Flags", "format_flags"]

# The keys of the 6.x SDK's get_auth_url(scope, options).
AUTH_URL_OPTIONS = ("force_prompt", "state", "make_bypass", "single_select", "flags", "user")


class AuthClient:
    """The application's side of OAuth with Smartcar.

    Missing arguments fall back to ``SMARTCAR_CLIENT_ID``, ``SMARTCAR_CLIENT_SECRET`` and
    ``SMARTCAR_REDIRECT_URI``. Both SDK call forms work: the 6.x ``AuthClient(id, secret, uri, test_mode,
    mode)`` (a boolean or None in the fourth place) and the 4.x ``AuthClient(id, secret, uri, scope, test_mode)``
    (a boolean in the fifth). ``test_mode`` decides only when no ``mode`` is given, as in 6.x where it is
    deprecated in favour of ``mode``.

    A scope (here or in ``get_auth_url``) is any of Smartcar's documented permissions (``permissions.PERMISSIONS``),
    each optionally ``required:`` (``required:read_odometer``: the owner cannot untick it); it goes to Connect
    unchanged. An unknown name raises ``permissions.InvalidScope`` (a ValueError) naming the closest one.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        scope: str | Iterable[str] | bool | None = None,
        mode: str | bool | None = None,
        test_mode: bool | None = None,
        *,
        origins: Origins | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.client_id = client_id or os.environ.get(CLIENT_ID_ENV)
        self._client_secret = client_secret or os.environ.get(CLIENT_SECRET_ENV)
        self.redirect_uri = redirect_uri or os.environ.get(REDIRECT_URI_ENV)
        if not self.client_id or not self._client_secret:
            raise ValueError(
                f"AuthClient needs a client id and secret: pass them or set {CLIENT_ID_ENV} "
                f"and {CLIENT_SECRET_ENV}"
            )
        if isinstance(scope, bool):  # 6.x: the fourth argument is test_mode
            test_mode = scope if test_mode is None else test_mode
            scope = None
        self.scope = tuple(validate_scope(scope)) if scope is not None else ALL_SCOPES
        if isinstance(mode, bool):  # 4.x: the fifth argument is test_mode
            test_mode = mode if test_mode is None else test_mode
            mode = None
        if mode is None:
            mode = "test" if test_mode else "live"
        self.mode = str(mode).lower()
        if self.mode not in CONNECT_MODES:
            raise ValueError(f"mode must be one of {', '.join(CONNECT_MODES)}, got {mode!r}")
        self._origins = origins
        self._transport = transport

    @property
    def origins(self) -> Origins:
        return self._origins or self.transport.origins

    @property
    def transport(self) -> Transport:
        return self._transport or shared_transport()

    def __repr__(self) -> str:
        return (
            f"AuthClient(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r}, "
            f"mode={self.mode!r})"
        )

    def get_auth_url(
        self,
        scope: str | Iterable[str] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
        state: str | None = None,
        make: str | None = None,
        vehicle_info: Mapping[str, str] | None = None,
        single_select: bool | Mapping[str, Any] | None = None,
        single_select_vin: str | None = None,
        flags: Flags | None = None,
        user: str | None = None,
    ) -> str:
        """The Smartcar Connect URL to send the user to.

        ``make`` (or ``vehicle_info={"make": ...}``) skips the brand list. ``single_select`` limits the
        user to one vehicle; a VIN (``single_select_vin`` or ``single_select={"vin": ...}``) picks that
        vehicle and takes precedence over ``make``, which is then left out.

        ``options`` is the 6.x SDK's dictionary: ``force_prompt``, ``state``, ``make_bypass``, ``single_select``
        (``{"enabled": ..., "vin": ...}``), ``flags`` and ``user``; keyword arguments given as well win.
        """
        if options:
            unknown = set(options) - set(AUTH_URL_OPTIONS)
            if unknown:
                raise ValueError(f"Unknown get_auth_url option(s): {', '.join(sorted(unknown))}")
            force = force or bool(options.get("force_prompt"))
            state = state or options.get("state")
            make = make or options.get("make_bypass")
            single_select = single_select if single_select is not None else options.get("single_select")
            flags = flags or options.get("flags")
            user = user or options.get("user")
        requested_scope = validate_scope(scope) if scope is not None else list(self.scope)
        make = make or (vehicle_info or {}).get("make")
        if isinstance(single_select, Mapping):
            single_select_vin = single_select_vin or single_select.get("vin")
            single_select = bool(single_select.get("enabled", True))
        if single_select_vin:
            single_select = True
            make = None

        # Order matters to nobody's parser but is part of the documented protocol, so keep it.
        query: list[tuple[str, str]] = [
            ("response_type", "code"),
            ("client_id", self.client_id or ""),
            ("approval_prompt", "force" if force else "auto"),
            ("mode", self.mode),
        ]
        if self.redirect_uri:
            query.append(("redirect_uri", self.redirect_uri))
        if requested_scope:
            query.append(("scope", " ".join(requested_scope)))
        if state:
            query.append(("state", state))
        if make:
            query.append(("make", make))
        if single_select is not None:
            query.append(("single_select", "true" if single_select else "false"))
        if single_select_vin:
            query.append(("single_select_vin", single_select_vin))
        if flags:
            query.append(("flags", format_flags(flags)))
        if user:
            query.append(("user", user))
        return f"{self.origins.authorize_url}?{urlencode(query)}"

    def get_reauth_url(
        self, vehicle_id: str, *, state: str | None = None, redirect_uri: str | None = None
    ) -> str:
        """Connect's re-authentication URL for a vehicle whose owner must sign in again [reauth].

        Connect then redirects to the redirect URI with ``vehicle_id`` and ``state`` (no code: the tokens in
        hand keep working). Without a redirect URI here or on the client, Connect uses the application's
        registered default.
        """
        if not vehicle_id or not isinstance(vehicle_id, str):
            raise ValueError("get_reauth_url needs the vehicle id to re-authenticate")
        query: list[tuple[str, str]] = [
            ("response_type", "vehicle_id"),
            ("client_id", self.client_id or ""),
            ("vehicle_id", vehicle_id),
        ]
        redirect_uri = redirect_uri or self.redirect_uri
        if redirect_uri:
            query.append(("redirect_uri", redirect_uri))
        if state:
            query.append(("state", state))
        return f"{self.origins.reauthenticate_url}?{urlencode(query)}"

    def get_compatibility(
        self,
        vin: str,
        scope: str | Iterable[str],
        country: str = "US",
        options: Mapping[str, Any] | None = None,
    ) -> Compatibility:
        """``api.get_compatibility`` with this client's credentials, origins and transport."""
        return api.get_compatibility(
            vin,
            scope,
            country,
            options,
            client_id=self.client_id,
            client_secret=self._client_secret,
            transport=self.transport,
            origins=self.origins,
        )

    def is_compatible(
        self,
        vin: str,
        scope: str | Iterable[str],
        country: str = "US",
        options: Mapping[str, Any] | None = None,
    ) -> bool:
        """As the seeds document it on the client: ``False`` means certainly not compatible, ``True`` likely."""
        return self.get_compatibility(vin, scope, country, options).compatible

    def exchange_code(self, code: str) -> Access:
        """Trade the ``code`` from Connect's redirect for tokens. Codes are single-use: never retried."""
        if not code or not isinstance(code, str):
            raise ValueError("exchange_code needs the authorization code from Connect's redirect")
        form = {"grant_type": "authorization_code", "code": code}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        return self._request_tokens(self._token_request(form))

    def exchange_refresh_token(self, refresh_token: str) -> Access:
        """Trade a refresh token for new tokens. Refresh tokens rotate, so this is never retried:
        a retry after a lost answer would present an already-used token."""
        return self._request_tokens(self.refresh_token_request(refresh_token))

    def refresh_token_request(self, refresh_token: str) -> PreparedRequest:
        """The refresh-token exchange, built but not sent: what ``exchange_refresh_token`` sends, and what bulk
        rotation hands to ``client.aio.send_all`` to keep many exchanges in flight; read the answer with
        ``parse_token_response``."""
        if not refresh_token or not isinstance(refresh_token, str):
            raise ValueError("exchange_refresh_token needs a refresh token")
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    @staticmethod
    def parse_token_response(response: ApiResponse) -> Access:
        """The tokens in the token endpoint's answer (``InvalidResponseException`` when it holds none), whichever
        transport sent the request."""
        return Access.from_token_response(response.body)

    def _token_request(self, form: dict[str, str]) -> PreparedRequest:
        # Smartcar's texts quote the refused code or refresh token ("Invalid refresh_token: <token>."):
        # the secrets listed here never reach a message, a log line or a stored error, on either transport.
        secrets = (form.get("code", ""), form.get("refresh_token", ""), self._client_secret or "")
        return PreparedRequest(
            "POST",
            self.origins.auth,
            data=form,
            auth=(self.client_id or "", self._client_secret or ""),
            retry_safe=False,
            call=TOKEN,
            secrets=tuple(secret for secret in secrets if secret),
        )

    def _request_tokens(self, request: PreparedRequest) -> Access:
        return self.parse_token_response(self.transport.send_prepared(request))

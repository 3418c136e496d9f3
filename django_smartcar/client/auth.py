"""Smartcar Connect and the token endpoint: building the consent URL and exchanging codes and tokens."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from .config import ALL_SCOPES, CLIENT_ID_ENV, CLIENT_SECRET_ENV, CONNECT_MODES, REDIRECT_URI_ENV, Origins
from .exceptions import SmartcarException
from .results import Access
from .transport import Transport, shared_transport

FlagValue = str | bool | int | float
Flags = Mapping[str, FlagValue] | Iterable[str]


def format_flags(flags: Flags) -> str:
    """``{"a": True, "b": "x"}`` -> ``"a:true b:x"``; an iterable of ready-made flags is space-joined."""
    if isinstance(flags, Mapping):
        parts = []
        for name, value in flags.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"{name}:{text}")
        return " ".join(parts)
    if isinstance(flags, str):
        return flags
    return " ".join(str(flag) for flag in flags)


def _scope_list(scope: str | Iterable[str]) -> list[str]:
    # A bare string would otherwise be joined letter by letter.
    return scope.split() if isinstance(scope, str) else list(scope)


class AuthClient:
    """The application's side of OAuth with Smartcar.

    Missing arguments fall back to ``SMARTCAR_CLIENT_ID``, ``SMARTCAR_CLIENT_SECRET`` and
    ``SMARTCAR_REDIRECT_URI``. For code written against the 4.x SDK, ``AuthClient(id, secret, uri, scope,
    True)`` (a boolean in the ``mode`` position) and ``test_mode=`` both mean test mode.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        scope: str | Iterable[str] | None = None,
        mode: str | bool = "live",
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
        self.scope = tuple(_scope_list(scope)) if scope is not None else ALL_SCOPES
        if isinstance(mode, bool):
            test_mode = mode if test_mode is None else test_mode
            mode = "live"
        if test_mode is not None:
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
        """
        requested_scope = _scope_list(scope) if scope is not None else list(self.scope)
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

    def exchange_code(self, code: str) -> Access:
        """Trade the ``code`` from Connect's redirect for tokens. Codes are single-use: never retried."""
        if not code or not isinstance(code, str):
            raise ValueError("exchange_code needs the authorization code from Connect's redirect")
        form = {"grant_type": "authorization_code", "code": code}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        return self._request_tokens(form)

    def exchange_refresh_token(self, refresh_token: str) -> Access:
        """Trade a refresh token for new tokens. Refresh tokens rotate, so this is never retried:
        a retry after a lost answer would present an already-used token."""
        if not refresh_token or not isinstance(refresh_token, str):
            raise ValueError("exchange_refresh_token needs a refresh token")
        return self._request_tokens({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _request_tokens(self, form: dict[str, str]) -> Access:
        try:
            response = self.transport.send(
                "POST",
                self.origins.auth,
                data=form,
                auth=(self.client_id or "", self._client_secret or ""),
                retry_safe=False,
            )
        except SmartcarException as error:
            # Smartcar's texts quote the refused code or refresh token ("Invalid refresh_token: <token>."):
            # whatever was sent never reaches a message, a log line or a stored error.
            secrets = [form.get("code", ""), form.get("refresh_token", ""), self._client_secret or ""]
            error.hide(secrets)
            raise
        return Access.from_token_response(response.body)

"""Credentials out of every URL the app reports: exception messages, log lines, stored error texts, reprs.

A configured origin such as ``http://user:secret@proxy.example`` ends up in the text of every failure that names
the URL it called; so do query parameters such as ``?access_token=...`` if a URL ever carries one. Every URL in
such a text goes through ``redact_text`` (or ``redact_url``) first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

# Query parameters whose value is a secret: tokens, secrets, keys, passwords, signatures, OAuth codes.
SECRET_PARAMETER = re.compile(
    r"token|secret|passw|pwd|key|signature|sig$|auth|code|credential", re.IGNORECASE
)
# Any scheme://... run of URL characters, wherever it appears in a text.
URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}]+")
# scheme://userinfo@ even when the rest of the URL cannot be parsed.
USERINFO = re.compile(r"(//)[^/?#\s]*@")
# A secret-looking query parameter, for URLs too malformed to parse.
SECRET_QUERY_VALUE = re.compile(
    r"([?&][^=&#\s]*(?:token|secret|passw|pwd|key|signature|auth|code|credential)[^=&#\s]*=)[^&#\s]*",
    re.IGNORECASE,
)


# Smartcar's token endpoint quotes what it refused: "Invalid code: <code>.", "Invalid refresh_token: <token>."
QUOTED_SECRET = re.compile(
    r"(\b(?:invalid|unknown|expired|revoked)\s+[\w ]*?(?:code|token|secret)\s*:\s*)(\S+?)(\.?)(?=\s|$)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """``url`` without its ``user:password@`` and with the values of secret-looking query parameters masked."""
    masked = USERINFO.sub(rf"\1{REDACTED}@", url)
    try:
        parts = urlsplit(masked)
        if not parts.query:
            return masked
        query = urlencode(
            [
                (name, REDACTED if SECRET_PARAMETER.search(name) else value)
                for name, value in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="*",
        )
        return urlunsplit(parts._replace(query=query))
    except ValueError:
        return SECRET_QUERY_VALUE.sub(rf"\1{REDACTED}", masked)


def without_userinfo(url: str) -> str:
    """``url`` with no ``user:password@`` at all: for URLs handed to someone else (the Connect URL a browser is
    sent to), where even a redaction mark does not belong."""
    return USERINFO.sub(r"\1", url)


def redact_text(text: str) -> str:
    """``text`` (an error message, a log line) with every URL in it passed through ``redact_url``, and any
    code or token an OAuth error quotes (``Invalid refresh_token: ***.``) masked."""
    text = URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    return QUOTED_SECRET.sub(rf"\1{REDACTED}\3", text)


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` (the values a request sent) masked."""
    for secret in sorted((value for value in secrets if value), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text

"""Checking that a webhook really comes from Smartcar, and answering its verification challenge."""

from __future__ import annotations

import hashlib
import hmac


def hash_challenge(amt: str, challenge: str) -> str:
    """Hex HMAC-SHA256 of ``challenge`` keyed with the Application Management Token.

    Answer a VERIFY webhook with ``{"challenge": hash_challenge(amt, challenge)}``.
    """
    return hmac.new(amt.encode(), challenge.encode(), hashlib.sha256).hexdigest()


def verify_payload(amt: str, signature: str | None, body: bytes | str) -> bool:
    """Whether ``signature`` (the ``SC-Signature`` header) signs ``body`` (the exact raw request body).

    Compared in constant time, unlike the official SDK, so the signature cannot be guessed byte by byte.
    """
    if not signature:
        return False
    raw = body if isinstance(body, bytes) else body.encode()
    expected = hmac.new(amt.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())

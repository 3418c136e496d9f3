"""Encryption of tokens at rest with Fernet keys from ``SMARTCAR["ENCRYPTION_KEYS"]`` (newest first).

A refresh token can unlock a car for 60 days, so the database never holds one in clear. ``MultiFernet``
encrypts with the first key and decrypts with any, which is what makes key rotation possible.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .conf import smartcar_settings
from .exceptions import DjangoSmartcarError


class EncryptionKeyError(DjangoSmartcarError):
    """The configured keys are missing or malformed, or none of them decrypts a stored value."""


def configured_keys() -> tuple[str, ...]:
    keys = smartcar_settings.ENCRYPTION_KEYS or ()
    if isinstance(keys, str):
        keys = [keys]
    return tuple(k.decode() if isinstance(k, bytes) else str(k) for k in keys)


@functools.lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise EncryptionKeyError(
            'No encryption key: set SMARTCAR["ENCRYPTION_KEYS"] (or SMARTCAR_ENCRYPTION_KEYS) to a list of '
            "Fernet keys, newest first."
        )
    fernets = []
    for position, key in enumerate(keys):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            # Never echo the key itself: it is a secret even when malformed.
            raise EncryptionKeyError(
                f"Encryption key #{position + 1} is not a valid Fernet key (32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)


def get_fernet() -> MultiFernet:
    """The MultiFernet for the current settings (cached per key list, so ``override_settings`` works)."""
    return _multifernet(configured_keys())


def encrypt(plaintext: str) -> str:
    return get_fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return get_fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            "A stored token cannot be decrypted with any configured encryption key "
            "(was a key removed from SMARTCAR['ENCRYPTION_KEYS'] too early?)."
        ) from None


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt with the newest key; a value already under it comes back unchanged in meaning."""
    try:
        return get_fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            "A stored token cannot be decrypted with any configured encryption key."
        ) from None


def generate_key() -> str:
    """A new key to put first in ``SMARTCAR["ENCRYPTION_KEYS"]``."""
    return Fernet.generate_key().decode()

"""Strings from outside (Smartcar, webhooks, browsers) that the app stores: which ones every database can hold.

PostgreSQL refuses NUL in text and JSON, and no encoding can write a lone surrogate (JSON's ``"\\ud800"``), so
such a string reaching ``save()`` would be a 500 and a broken transaction. Every service that stores outside
text checks or cleans it here.
"""

from __future__ import annotations

from django.db.models import CharField, Model


def is_storable(text: str) -> bool:
    """Whether every supported database stores ``text`` as is: no NUL, no unpaired surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_text(text: str, max_length: int) -> bool:
    """A user-supplied value (a URL, a name, an OAuth ``state``) fit to store and show: at most ``max_length``
    characters, no control characters, no unpaired surrogates."""
    return len(text) <= max_length and not any(
        ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) <= 0xDFFF for char in text
    )


def storable(text: str) -> str:
    """``text`` with NUL and unpaired surrogates escaped, so that any database stores it (for error texts)."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def column_length(model: type[Model], field_name: str) -> int:
    """How many characters ``model``'s ``field_name`` column holds (its ``max_length``), for checks before saving."""
    field = model._meta.get_field(field_name)
    if not isinstance(field, CharField) or field.max_length is None:
        raise TypeError(f"{model.__name__}.{field_name} is not a text column with a max_length")
    return field.max_length

"""Request parsing for the app's API: the project's parsers, with JSON that cannot crash the view."""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, turning a document nested too deeply for Python's parser into a 400.

    ``json.loads`` raises ``RecursionError`` (not a ``ValueError``) on ``[[[[...]]]]`` a few thousand levels
    deep, which DRF does not catch: a single small request would otherwise be a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


def parser_classes() -> list[type]:
    """The project's ``DEFAULT_PARSER_CLASSES``, each JSON parser replaced by one that refuses deep nesting."""
    return [_made_safe(parser) for parser in api_settings.DEFAULT_PARSER_CLASSES]


@cache
def _made_safe(parser: type) -> type:
    if not issubclass(parser, JSONParser) or issubclass(parser, SafeJSONParser):
        return parser
    return type(f"Safe{parser.__name__}", (SafeJSONParser, parser), {})

"""Request parsing for the app's API: the project's parsers, with JSON that cannot crash the view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import IO, Any, cast

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.settings import api_settings


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, turning a document nested too deeply for Python's parser into a 400.

    ``json.loads`` raises ``RecursionError`` (not a ``ValueError``) on ``[[[[...]]]]`` a few thousand levels
    deep, which DRF does not catch: a single small request would otherwise be a 500.
    """

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


def parser_classes() -> list[type[BaseParser]]:
    """The project's ``DEFAULT_PARSER_CLASSES``, each JSON parser replaced by one that refuses deep nesting."""
    # api_settings holds the imported classes; its stubs type the settings as written (dotted paths).
    defaults = cast("Sequence[type[BaseParser]]", api_settings.DEFAULT_PARSER_CLASSES)
    # Classes are hashable; mypy's Hashable protocol check does not see their metaclass's __hash__.
    return [_made_safe(parser) for parser in defaults]  # type: ignore[arg-type]


@cache
def _made_safe(parser: type[BaseParser]) -> type[BaseParser]:
    if not issubclass(parser, JSONParser) or issubclass(parser, SafeJSONParser):
        return parser
    return type(f"Safe{parser.__name__}", (SafeJSONParser, parser), {})

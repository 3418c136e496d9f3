"""Car makes as people write them.

Smartcar reports makes in capitals (``TESLA``, ``BMW``, ``MERCEDES-BENZ``) and its brand identifiers with
underscores (``LAND_ROVER``). Pages and the admin show the brand's own spelling (``Tesla``, ``BMW``,
``Mercedes-Benz``, ``Land Rover``); the stored value and the REST API keep Smartcar's.
"""

from __future__ import annotations

import re

# Brands written in capitals (acronyms and brands styled that way).
CAPITALISED = frozenset({"BMW", "BYD", "DS", "GMC", "MG", "MINI", "NIO", "RAM", "SEAT", "VW"})

# Whole names whose spelling is not each word capitalised, keyed by the name in capitals with spaces.
SPELLINGS = {
    "MCLAREN": "McLaren",
    "MERCEDES BENZ": "Mercedes-Benz",
    "ROLLS ROYCE": "Rolls-Royce",
}

_WORD_BOUNDARY = re.compile(r"([ \-])")


def display_make(make: str) -> str:
    """``make`` as the brand writes it: ``"TESLA"`` -> ``"Tesla"``, ``"BMW"`` -> ``"BMW"``.

    A make that already has lower-case letters (Smartcar's v3 API sends ``"Tesla"``) is kept as it is.
    """
    make = " ".join(make.replace("_", " ").split())
    if not make or any(character.islower() for character in make):
        return make
    if make in SPELLINGS:
        return SPELLINGS[make]
    return "".join(
        part if part in CAPITALISED or not part.strip(" -") else part.capitalize()
        for part in _WORD_BOUNDARY.split(make)
    )

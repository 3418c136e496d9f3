"""Throttling of the API calls that reach Smartcar (commands and data refreshes), on top of the project's.

Each of those calls is a billed Smartcar request and may wake the car, so the app limits them per user even when
the project sets no throttling at all. Set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["smartcar_commands"]`` to
change the rate, or to ``None`` to turn this throttle off. The counts live in the cache named by
``SMARTCAR["THROTTLE_CACHE"]``, which must be shared by every server process (system check W006).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from django.core.cache import caches
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from ..conf import smartcar_settings


class SmartcarCommandThrottle(UserRateThrottle):
    scope: str = "smartcar_commands"
    default_rate = "10/minute"

    def __init__(self) -> None:
        # A per-process cache (LocMem, Django's default) would count each worker separately: N workers, N times
        # the rate. DRF makes a throttle per request, so the alias is read at every request, like the rate.
        self.cache = caches[smartcar_settings.THROTTLE_CACHE]
        super().__init__()

    def get_rate(self) -> str | None:
        # Read at every request (not at import, as DRF's class attribute is), so settings changes apply.
        # The rates are DRF's "number/period" strings, or None for no limit.
        rates = cast("Mapping[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES or {})
        return rates.get(self.scope, self.default_rate)

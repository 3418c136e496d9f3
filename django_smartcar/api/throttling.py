"""Throttling of the API calls that reach Smartcar (commands and data refreshes), on top of the project's.

Each of those calls is a billed Smartcar request and may wake the car, so the app limits them per user even when
the project sets no throttling at all. Set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["smartcar_commands"]`` to
change the rate, or to ``None`` to turn this throttle off.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class SmartcarCommandThrottle(UserRateThrottle):
    scope = "smartcar_commands"
    default_rate = "10/minute"

    def get_rate(self) -> str | None:
        # Read at every request (not at import, as DRF's class attribute is), so settings changes apply.
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope, self.default_rate)

"""Defaults of ``SMARTCAR_SIMULATOR`` settings that are read before Django is set up, too: the standalone
command line's defaults and help come from here, as the simulator's own (``limits.setting``) do.

No Django import: ``python -m django_smartcar.simulator`` parses its arguments before configuring Django.
"""

from __future__ import annotations

from typing import Any

# Smartcar's published numbers where there are some [limits]; the per-vehicle throttle follows its advice of
# under 20 requests per vehicle an hour [lat]. See ``limits`` for what each one counts.
LIMITS: dict[str, Any] = {
    "APP_RATE_LIMIT": {"capacity": 120, "refill_per_minute": 2},
    "VEHICLE_RATE_LIMIT": {"requests": 20, "window_seconds": 3600},
    "VEHICLE_MONTHLY_REQUEST_LIMIT": 500,
}

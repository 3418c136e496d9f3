"""Smartcar's latency, modelled per class of endpoint, seeded, and compressed by a time scale.

Smartcar's vehicle requests wait for the car maker's cloud and the car: "3-45 s typical, 300 s max"
(Smartcar, "Make requests to Smartcar"; its SDKs therefore wait 310 s), and a command is held up to about
175 s before Smartcar answers. Its own endpoints (the token endpoint, ``/user``, ``/vehicles``, permissions,
webhook subscriptions) answer like any web service. Switched on in settings::

    SMARTCAR_SIMULATOR = {"LATENCY": {"model": "smartcar", "scale": 0.01, "seed": 0}}

``scale`` multiplies every delay (0.01 turns an 8 s read into 80 ms), so tests and the demo keep the shape of
the real service at a fraction of its time. The n-th request of a class waits ``sample(model, class, seed, n)``
times ``scale``: the same seed gives the same delays in the same order (the count is per process).
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# The classes of endpoint, each with its own delays.
TOKEN = "token"  # POST oauth/token
PLATFORM = "platform"  # answered by Smartcar alone: /user, /vehicles, attributes, VIN, permissions, webhooks,
# disconnect, and a batch of only those
READ = "read"  # reads that reach the car: data GETs, and a batch with at least one of them
COMMAND = "command"  # lock, unlock, charge, charge limit, navigation
ENDPOINT_CLASSES = (TOKEN, PLATFORM, READ, COMMAND)


@dataclass(frozen=True)
class Profile:
    """One class's delays, in seconds: a log-normal body around ``median`` (``spread`` is the standard deviation
    of its logarithm) kept within ``low``..``high``, and with probability ``tail`` a heavy tail instead, spread
    log-uniformly from ``high`` up to ``longest`` (each doubling of the wait as likely as the previous one)."""

    median: float
    spread: float
    low: float
    high: float
    tail: float = 0.0
    longest: float = 0.0

    def sample(self, draw: random.Random) -> float:
        # Both numbers are drawn every time, so a request's delay depends only on its index.
        in_tail, body = draw.random(), draw.gauss(0.0, 1.0)
        if in_tail < self.tail and self.longest > self.high:
            return math.exp(math.log(self.high) + draw.random() * math.log(self.longest / self.high))
        return min(self.high, max(self.low, self.median * math.exp(self.spread * body)))


# Smartcar as documented [lat]: reads 3-45 s typically (median 8 s; 5th/95th/99th percentiles 3, 27 and 145 s),
# 3 % in a tail up to 300 s; commands slower (median 15 s, 5-90 s) with a tail up to the ~175 s after which
# Smartcar stops holding the request; the token endpoint and Smartcar's own endpoints well under 3 s.
MODELS: dict[str, dict[str, Profile]] = {
    "smartcar": {
        TOKEN: Profile(median=0.3, spread=0.5, low=0.1, high=2.0),
        PLATFORM: Profile(median=0.5, spread=0.5, low=0.1, high=3.0),
        READ: Profile(median=8.0, spread=0.6, low=3.0, high=45.0, tail=0.03, longest=300.0),
        COMMAND: Profile(median=15.0, spread=0.6, low=5.0, high=90.0, tail=0.03, longest=175.0),
    },
    "none": {},
}

SETTING_KEYS = ("model", "scale", "seed")

_counters: dict[str, itertools.count[int]] = {}
_counters_lock = threading.Lock()


def sample(model: str, endpoint_class: str, seed: int, index: int) -> float:
    """Seconds (unscaled) the ``index``-th request of ``endpoint_class`` waits under ``model`` and ``seed``."""
    profile = MODELS[model].get(endpoint_class)
    if profile is None:
        return 0.0
    return profile.sample(random.Random(f"latency:{seed}:{endpoint_class}:{index}"))


@dataclass(frozen=True)
class LatencySettings:
    model: str = "none"
    scale: float = 1.0
    seed: int = 0


def parse(value: Any) -> LatencySettings:
    """``SMARTCAR_SIMULATOR["LATENCY"]`` checked: ValueError says what is wrong."""
    if value is None:
        return LatencySettings()
    if not isinstance(value, dict):
        raise ValueError("LATENCY must be a dict such as {'model': 'smartcar', 'scale': 0.01, 'seed': 0}")
    unknown = sorted(set(value) - set(SETTING_KEYS))
    if unknown:
        raise ValueError(
            f"LATENCY has unknown key(s) {', '.join(map(str, unknown))}; use {', '.join(SETTING_KEYS)}"
        )
    model, scale, seed = value.get("model", "smartcar"), value.get("scale", 1.0), value.get("seed", 0)
    if model not in MODELS:
        raise ValueError(f"LATENCY model must be one of {', '.join(MODELS)}, not {model!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 <= scale <= 10:
        raise ValueError(f"LATENCY scale must be a number from 0 to 10, not {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"LATENCY seed must be an integer, not {seed!r}")
    return LatencySettings(model=model, scale=float(scale), seed=seed)


def configured() -> LatencySettings:
    from .faults import simulator_settings

    try:
        return parse(simulator_settings().get("LATENCY"))
    except ValueError as error:
        raise ImproperlyConfigured(f"SMARTCAR_SIMULATOR: {error}") from error


def delay(endpoint_class: str) -> float:
    """Seconds this request of ``endpoint_class`` waits under the configured model (scaled); 0 without one."""
    chosen = configured()
    if chosen.model == "none" or chosen.scale == 0:
        return 0.0
    with _counters_lock:
        index = next(_counters.setdefault(endpoint_class, itertools.count()))
    return sample(chosen.model, endpoint_class, chosen.seed, index) * chosen.scale


def classify(method: str, path: str, batch_paths: Sequence[str] | None = None) -> str:
    """The class of a request to ``/v2.0/vehicles/{id}/<path>``.

    A batch is a read that reaches the car when any of its ``batch_paths`` does; a batch of only Smartcar's
    own records (attributes, VIN, nominal capacity, service history: ``reaches_car`` False in
    ``vehicle_api.ENDPOINTS``) is answered by Smartcar alone, like those endpoints on their own. A batch whose
    paths are not given (or not all known) counts as a read."""
    from .vehicle_api import ENDPOINTS

    path = path.strip("/")
    if method == "POST" and path == "batch":
        endpoints = [ENDPOINTS.get(("GET", item.strip("/"))) for item in batch_paths or ()]
        if endpoints and all(endpoint is not None and not endpoint.reaches_car for endpoint in endpoints):
            return PLATFORM
        return READ
    endpoint = ENDPOINTS.get((method, path))
    if endpoint is None or not endpoint.reaches_car:
        return PLATFORM
    return READ if method == "GET" else COMMAND

"""How much each benchmark does: the full run of ``make bench``, and a tiny one that only shows everything runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    rotation_small: int  # accounts; the worker's memory is compared between the small and the large run
    rotation_large: int
    rotation_loop: int  # accounts the official package's loop rotates (rates are per account)
    refresh: int  # vehicles
    refresh_per_endpoint_loop: int
    refresh_batch_loop: int
    api_vehicles: int  # vehicles of the REST API's larger user (the other has 1)
    load_seconds: float
    load_warmup: float
    load_connections: int
    in_process_events: int  # webhook events timed through Django's test client
    fleet: int  # vehicles of benchmark 5's large fleet; its small one and the threads design's subset below
    fleet_small: int
    fleet_threads: int
    fleet_latency_scale: float  # Smartcar's latency model, scaled
    # Vehicles of benchmark 6's virtual month. Not the issue's 1,000 on the full run: every simulated read costs
    # about 70 ms of CPU here and in the simulator (the month must fit in about 90 s on two cores: 20 vehicles);
    # polling decides per vehicle, so its per-vehicle figures do not depend on the fleet's size.
    month: int
    month_days: int  # days of the virtual month run (0: all of it)

    @property
    def owners(self) -> int:
        """Simulated owners to seed: one per account the rotation uses and one per refreshed vehicle."""
        return (
            self.rotation_small
            + self.rotation_large
            + self.rotation_loop
            + self.refresh
            + self.fleet
            + self.month
        )


SIZES = {
    "full": Size(200, 2000, 100, 500, 20, 100, 1000, 10.0, 2.0, 10, 500, 2500, 500, 30, 0.5, 10, 0),
    # For tests/test_benchmarks.py: every benchmark runs, the counts hold; its ratios mean nothing.
    "tiny": Size(4, 12, 3, 8, 2, 3, 20, 1.0, 0.3, 4, 20, 30, 10, 5, 0.01, 5, 2),
}

"""Race tests that prove their race happened.

A race test passes trivially when its parties happen to run one after the other (a slow thread start, a loaded
machine, a process that started late): the lock under test is then never contended. Each party therefore
records when it entered and left its critical call, and the test asserts that every party had entered before
the first one left, i.e. that all of them were inside at once. Barriers line the parties up first; a widened
critical section (e.g. the simulator's latency fault on the token endpoint) gives them time to meet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

Span = tuple[float, float]
# How long the simulator's token endpoint waits in a token race: the first refresh holds the lock that long,
# ample time for every other party (threads or processes released together) to reach it.
RACE_LATENCY_MS = 700


def assert_all_inside_at_once(spans: Sequence[Span], parties: int) -> None:
    """Every one of ``parties`` spans (enter, exit) began before the earliest one ended."""
    assert len(spans) == parties, f"{len(spans)} of {parties} parties reached the critical call"
    latest_enter = max(enter for enter, _exit in spans)
    earliest_exit = min(exit for _enter, exit in spans)
    assert latest_enter < earliest_exit, (
        f"The race did not happen: a party entered {latest_enter - earliest_exit:.3f} s after another had "
        f"already left (spans relative to the first entry: {relative(spans)})"
    )


def overlapping_pairs(first: Sequence[Span], second: Sequence[Span]) -> int:
    """How many (span of ``first``, span of ``second``) pairs were running at the same time."""
    return sum(1 for a in first for b in second if a[0] < b[1] and b[0] < a[1])


def relative(spans: Sequence[Span]) -> list[tuple[float, float]]:
    origin = min(enter for enter, _exit in spans)
    return [(round(enter - origin, 3), round(exit - origin, 3)) for enter, exit in spans]


class CriticalSections:
    """Thread-safe record of the (enter, exit) times of each party's critical call."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()

    @contextmanager
    def inside(self) -> Iterator[None]:
        enter = time.monotonic()
        try:
            yield
        finally:
            exit = time.monotonic()
            with self._lock:
                self.spans.append((enter, exit))

    def assert_all_inside_at_once(self, parties: int) -> None:
        assert_all_inside_at_once(self.spans, parties)

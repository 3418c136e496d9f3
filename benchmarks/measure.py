"""Counting and timing: SQL queries, a process's CPU time and peak memory, waiting for work to finish."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created


class QueryCounter:
    """Counts the SQL statements Django sends, as a ``connection.execute_wrapper``."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)

    def count_worker_threads(self) -> None:
        """From now on, count on every connection opened outside the main thread (Celery's pool threads)."""
        connection_created.connect(self._install, weak=False)

    def _install(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if (
            threading.current_thread() is not threading.main_thread()
            and self not in connection.execute_wrappers
        ):
            connection.execute_wrappers.append(self)

    @contextmanager
    def count_this_thread(self, alias: str = "default") -> Iterator[QueryCounter]:
        with connections[alias].execute_wrapper(self):
            yield self


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(match: Callable[[str], bool]) -> dict[int, float]:
    """CPU seconds used so far by each running process whose command line (as ``ps`` shows it) ``match``es."""
    used = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if match(command):
                used[int(entry.name)] = process_cpu_seconds(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return used


def cpu_used_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes of ``after`` used since ``before`` (one that exited in between is not counted)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def process_peak_rss(pid: int) -> int:
    """The most resident memory a process has used so far, in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"No VmHWM for process {pid}")


def machine_cpu_times() -> tuple[int, int]:
    """``(busy, total)`` clock ticks of every CPU since boot (Linux ``/proc/stat``)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How busy the machine's CPUs were between two ``machine_cpu_times()``, from 0 to 1."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def median_ms(seconds: Sequence[float]) -> float:
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1000 if ordered else float("nan")


def wait_until(done: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.02) -> float:
    """Poll ``done`` until it is true; returns when it became true (``perf_counter``). Raises after ``timeout``."""
    deadline = time.perf_counter() + timeout
    while True:
        if done():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"Gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)

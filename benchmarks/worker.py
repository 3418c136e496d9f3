"""The Celery worker that runs the app's tasks, as production runs it, and what it costs.

``celery -A benchmarks.celery_app worker --pool threads --concurrency 16`` (the README's recommendation for
rotation) in its own process, fresh for each measured run so that its peak memory belongs to that run. The
worker counts its own SQL queries and Smartcar round trips (``benchmarks.worker_stats``) and writes them to a
file when it shuts down; CPU time and peak memory are read from ``/proc``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .measure import process_cpu_seconds, process_peak_rss
from .process import launch, wait_until
from .worker_stats import STATS_ENV

ROOT = Path(__file__).resolve().parent.parent
RECOMMENDED_CONCURRENCY = 16
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class WorkerStats:
    queries: int
    round_trips: dict[str, list[float]]
    cpu_seconds: float
    peak_rss_bytes: int


class CeleryWorker:
    def __init__(self, folder: Path, name: str, concurrency: int = RECOMMENDED_CONCURRENCY) -> None:
        self.log_path = folder / f"{name}.log"
        self.stats_path = folder / f"{name}.json"
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from .celery_app import app

        # Messages left by an interrupted earlier run would be executed against this run's database.
        app.control.purge()
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "benchmarks.celery_app",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(self.concurrency),
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ]
        environment = {**os.environ, STATS_ENV: str(self.stats_path)}
        self.process = launch(command, self.log_path, cwd=ROOT, env=environment)
        try:
            wait_until(
                self.stats_path.exists,
                "The Celery worker",
                process=self.process,
                log_path=self.log_path,
                timeout=START_TIMEOUT,
                interval=0.05,
            )
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> WorkerStats:
        """Shut the worker down warmly and return what it measured."""
        assert self.process is not None
        cpu, peak = self.cpu_seconds(), process_peak_rss(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(
                f"The Celery worker did not stop:\n{self.log_path.read_text()[-4000:]}"
            ) from None
        finally:
            self.process = None
        recorded = json.loads(self.stats_path.read_text())
        if "queries" not in recorded:
            raise RuntimeError(f"The Celery worker left no statistics:\n{self.log_path.read_text()[-4000:]}")
        return WorkerStats(recorded["queries"], recorded["round_trips"], cpu, peak)

    def kill(self) -> tuple[float, int]:
        """Kill the worker at once, its tasks with it (requests still in flight are abandoned); returns its CPU
        seconds and peak RSS, read just before. No statistics file: ``stop`` is for runs that count queries."""
        assert self.process is not None
        cpu, peak = self.cpu_seconds(), process_peak_rss(self.process.pid)
        self.process.kill()
        self.process.wait()
        self.process = None
        return cpu, peak

    def __enter__(self) -> CeleryWorker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

"""The benchmark site under gunicorn, as it would be deployed, and the load generator that drives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .measure import busy_fraction, machine_cpu_times
from .process import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent


def recommended_workers() -> int:
    """Gunicorn's documented starting point: two sync workers per core, plus one."""
    return 2 * (os.cpu_count() or 1) + 1


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    all_ok: int
    statuses: dict[str, int]
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    machine_busy: float  # fraction of all CPUs in use, warm-up included

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if status.startswith("2"))


class WebServer(ManagedProcess):
    """``gunicorn benchmarks.wsgi`` on 127.0.0.1:``port`` with sync workers; the environment is inherited."""

    name = "gunicorn"

    def __init__(self, port: int, log_path: Path, workers: int | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self.workers = workers or recommended_workers()
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
        ]
        self.launch(command, cwd=ROOT)

    def is_ready(self) -> bool:
        requests.get(f"{self.base_url}/api/smartcar/vehicles/", timeout=5)
        return True

    def load(
        self, path: str, *, duration: float, warmup: float, connections: int, **options: str
    ) -> LoadResult:
        """Drive ``path`` from a separate process (``benchmarks.load``); options: ``cookie``, ``sign_with``."""
        command = [
            sys.executable,
            "-m",
            "benchmarks.load",
            "--url",
            f"{self.base_url}{path}",
            "--connections",
            str(connections),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
        ]
        for name, value in options.items():
            command += [f"--{name.replace('_', '-')}", value]
        cpu_before = machine_cpu_times()
        finished = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=duration + warmup + 60
        )
        machine_busy = busy_fraction(cpu_before, machine_cpu_times())
        answer: dict[str, Any] = json.loads(finished.stdout)
        return LoadResult(
            requests=answer["requests"],
            errors=answer["errors"],
            all_ok=answer["all_ok"],
            statuses=answer["statuses"],
            requests_per_second=answer["requests_per_second"],
            p50_ms=answer["p50_ms"],
            p99_ms=answer["p99_ms"],
            machine_busy=machine_busy,
        )

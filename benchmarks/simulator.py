"""The standalone simulator every benchmark talks to: seeding it, running it, and reading what it received.

It runs as its own process on 127.0.0.1 (``python -m django_smartcar.simulator``), so the app and the official
``smartcar`` package reach it over real HTTP. Requests are counted from its access log (one line per request,
written by Django's development server), which counts what Smartcar would bill whoever sent them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .credentials import CLIENT_ID, CLIENT_SECRET, MANAGEMENT_TOKEN, REDIRECT_URI
from .process import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent
LOG_TIMEOUT = 10.0
REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.[01]" (?P<status>\d{3})')


@dataclass(frozen=True)
class Owner:
    """A simulated vehicle owner connected to the benchmark application, with the tokens Connect gave."""

    user_id: str
    vehicle_id: str
    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"Owner(user_id={self.user_id!r}, vehicle_id={self.vehicle_id!r})"


def child_environment() -> dict[str, str]:
    # The simulator configures its own Django settings; the benchmark's must not leak into it.
    return {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}


def seed(database: Path, owners: int, *, first: int = 0) -> list[Owner]:
    """Create the simulator's database with ``owners`` connected owners and return their tokens; ``first`` is
    the index of the first one (more owners added to an existing database need indexes of their own)."""
    output = database.with_suffix(".owners.json")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.simulator_seed",
            "--database",
            str(database),
            "--owners",
            str(owners),
            "--output",
            str(output),
            "--first",
            str(first),
        ],
        check=True,
        cwd=ROOT,
        env=child_environment(),
        timeout=300,
    )
    return [Owner(**entry) for entry in json.loads(output.read_text())]


class Simulator(ManagedProcess):
    """``python -m django_smartcar.simulator`` on ``port``, serving an already seeded ``database``."""

    name = "The simulator"

    def __init__(self, database: Path, port: int, log_path: Path) -> None:
        self.database = database
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        # Benchmarks 1-4 measure the app, not Smartcar's limits or sleeping cars; benchmark 5 restarts it with
        # Smartcar's latency and limits (``restart``).
        self.options: tuple[str, ...] = ("--no-limits", "--no-traits")

    @property
    def origins(self) -> dict[str, str]:
        """The environment variables that point the app and the official SDK at this simulator."""
        return {
            "SMARTCAR_CONNECT_ORIGIN": self.base_url,
            "SMARTCAR_AUTH_ORIGIN": f"{self.base_url}/oauth/token",
            "SMARTCAR_API_ORIGIN": self.base_url,
            "SMARTCAR_MANAGEMENT_API_ORIGIN": self.base_url,
            "SMARTCAR_IAM_ORIGIN": self.base_url,
            "SMARTCAR_VEHICLE_API_V3_ORIGIN": self.base_url,
            "SMARTCAR_MANAGEMENT_API_V3_ORIGIN": self.base_url,
        }

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "django_smartcar.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--redirect-uri",
            REDIRECT_URI,
            "--management-token",
            MANAGEMENT_TOKEN,
            "--vehicles",
            "0",
            "--database",
            str(self.database),
            *self.options,
        ]
        self.launch(command, env=child_environment())

    def restart(self, *options: str) -> None:
        """Stop, and start again on the same port and database with other command-line ``options``."""
        self.stop()
        self.options = options
        self.start()

    def is_ready(self) -> bool:
        return requests.get(f"{self.base_url}/_simulator/health", timeout=1).ok

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.request(
            method,
            f"{self.base_url}/_simulator/{path}",
            json=body,
            headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def set_latency(self, *, token_ms: int = 0, api_ms: int = 0) -> None:
        """Make the token endpoint and the vehicle API answer this much later (replacing earlier faults)."""
        self.control("DELETE", "faults")
        for target, milliseconds in (("token", token_ms), ("api", api_ms)):
            if milliseconds:
                self.control(
                    "POST", "faults", {"kind": "latency", "target": target, "latency_ms": milliseconds}
                )

    def round_trip_ms(self, *, keep_alive: bool, count: int = 20) -> float:
        """Median time of a trivial request (the health check), on one kept-alive connection or new ones."""
        url = f"{self.base_url}/_simulator/health"
        timings = []
        with requests.Session() as session:
            for _ in range(count):
                started = time.perf_counter()
                if keep_alive:
                    session.get(url, timeout=10).raise_for_status()
                else:
                    requests.get(url, timeout=10, headers={"Connection": "close"}).raise_for_status()
                timings.append(time.perf_counter() - started)
        return sorted(timings)[count // 2] * 1000

    def log_position(self) -> int:
        """A mark in the access log; ``requests_since(mark)`` counts what was received after it."""
        return self.log_path.stat().st_size

    def requests_since(self, mark: int) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every request the simulator answered since ``mark``.

        The server logs a request just after sending its answer, so a client can hold the answer before the
        line is written. A marker request sent afterwards, once logged, shows the log has caught up.
        """
        marker = f"/_simulator/health?log-marker={uuid.uuid4().hex}"
        requests.get(
            f"{self.base_url}{marker}", timeout=10, headers={"Connection": "close"}
        ).raise_for_status()
        deadline = time.monotonic() + LOG_TIMEOUT
        while True:
            with self.log_path.open("rb") as log:
                log.seek(mark)
                text = log.read().decode(errors="replace")
            if marker in text:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"The simulator did not log a request within {LOG_TIMEOUT:.0f} s")
            time.sleep(0.01)
        return [
            (match["method"], match["path"], int(match["status"]))
            for match in REQUEST_LINE.finditer(text.split(marker, 1)[0])
        ]

    def live_refresh_tokens(self, refresh_tokens: Iterable[str]) -> int:
        """How many of ``refresh_tokens`` the simulator would still accept: issued, unexpired, never used.

        Read straight from its database (read-only): a stored token that is not live is an account lost.
        """
        digests = [hashlib.sha256(token.encode()).hexdigest() for token in refresh_tokens]
        live = 0
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            for start in range(0, len(digests), 500):
                chunk = digests[start : start + 500]
                placeholders = ",".join("?" * len(chunk))
                (count,) = connection.execute(
                    "SELECT COUNT(*) FROM smartcar_simulator_refreshtoken "
                    f"WHERE rotated_at IS NULL AND expires_at > datetime('now') AND token_hash IN ({placeholders})",
                    chunk,
                ).fetchone()
                live += count
        finally:
            connection.close()
        return live

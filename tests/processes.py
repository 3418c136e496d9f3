"""Child processes the suite starts for real: Celery workers and beat, scripts, servers. One way to start them
with the test database and the live simulator, wait for them, and stop them.

The start/wait/stop mechanics are ``benchmarks/process.py``'s (one helper for the suite and the benchmarks);
this module adds what only the suite needs: the test settings and database in the child's environment, Celery
commands, and failures reported through pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from benchmarks.process import answers, free_port, launch, stop, wait_until

__all__ = [
    "ROOT",
    "answers",
    "child_env",
    "database_url",
    "free_port",
    "launch",
    "start",
    "start_beat",
    "start_python",
    "start_worker",
    "stop",
    "wait_for",
    "wait_until",
]

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 90


def database_url() -> str | None:
    """The test database as a DATABASE_URL for child processes (None: SQLite, found through the environment)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return None
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def child_env(simulator: Any = None, **extra: str) -> dict[str, str]:
    """This process's environment for a child: the test settings and database, the simulator's origins."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    if simulator is not None:
        env.update(
            SMARTCAR_CONNECT_ORIGIN=simulator.base_url,
            SMARTCAR_AUTH_ORIGIN=f"{simulator.base_url}/oauth/token",
            SMARTCAR_API_ORIGIN=simulator.base_url,
            SMARTCAR_MANAGEMENT_API_ORIGIN=simulator.base_url,
            SMARTCAR_IAM_ORIGIN=simulator.base_url,
            SMARTCAR_VEHICLE_API_V3_ORIGIN=simulator.base_url,
            SMARTCAR_MANAGEMENT_API_V3_ORIGIN=simulator.base_url,
        )
    url = database_url()
    if url:
        env["DATABASE_URL"] = url
    else:
        # The test database's own file: pytest-xdist renames it per worker process (``..._gw0``).
        env["DJANGO_SMARTCAR_TEST_SQLITE"] = str(connection.settings_dict["NAME"])
    env.update(extra)
    return env


def start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen, Path]:
    """``python -m celery -A tests.celery_app <args>``, its output in ``log_dir/<name>.log``."""
    return start_python(name, ["-m", "celery", "-A", "tests.celery_app", *args], env, log_dir)


def start_python(
    name: str, args: list[str], env: dict[str, str], log_dir: Path
) -> tuple[subprocess.Popen, Path]:
    log = log_dir / f"{name}.log"
    return launch([sys.executable, *args], log, cwd=ROOT, env=env), log


def start_worker(
    env: dict[str, str], log_dir: Path, *, name: str = "worker", concurrency: int = 2, purge: bool = False
) -> tuple[subprocess.Popen, Path]:
    """A threads-pool worker (one process, so one PID to kill) that has said it is ready."""
    args = ["worker", "--pool", "threads", "--concurrency", str(concurrency), "--without-mingle"]
    args += ["--without-gossip", "--loglevel", "INFO", *(["--purge"] if purge else [])]
    process, log = start(name, args, env, log_dir)
    wait_for(lambda: "ready." in log.read_text(), f"the {name} to start", [log], timeout=60)
    return process, log


def start_beat(env: dict[str, str], log_dir: Path, *, name: str = "beat") -> tuple[subprocess.Popen, Path]:
    return start(
        name, ["beat", "--schedule", str(log_dir / f"{name}-schedule"), "--loglevel", "INFO"], env, log_dir
    )


def wait_for(
    predicate: Callable[[], bool], what: str, logs: Iterable[Path] = (), timeout: float = DEADLINE_SECONDS
) -> None:
    """Poll ``predicate`` until it holds; fail the test with the tail of every log after ``timeout`` seconds."""
    try:
        wait_until(predicate, what, timeout=timeout, interval=0.2)
    except RuntimeError:
        dump = "\n\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in logs)
        pytest.fail(f"Timed out after {timeout} s waiting for {what}.\n{dump}")

"""Child processes the suite starts for real: Celery workers and beat, scripts, servers. One way to start them
with the test database and the live simulator, wait for them, and stop them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

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
        )
    url = database_url()
    if url:
        env["DATABASE_URL"] = url
    env.update(extra)
    return env


def start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen, Path]:
    """``python -m celery -A tests.celery_app <args>``, its output in ``log_dir/<name>.log``."""
    return start_python(name, ["-m", "celery", "-A", "tests.celery_app", *args], env, log_dir)


def start_python(
    name: str, args: list[str], env: dict[str, str], log_dir: Path
) -> tuple[subprocess.Popen, Path]:
    log = log_dir / f"{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    return process, log


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
    """Poll ``predicate`` until it holds; fail with the tail of every log after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    dump = "\n\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in logs)
    pytest.fail(f"Timed out after {timeout} s waiting for {what}.\n{dump}")


def stop(*processes: subprocess.Popen | None, timeout: float = 20) -> None:
    """Terminate, then kill what is still running after ``timeout`` seconds; always reaps."""
    running = [process for process in processes if process is not None and process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""Background processes, started, waited for and stopped one way: the benchmarks' servers and worker, and the
test suite's simulator, demo site, Celery workers and scripts (``tests/processes.py`` builds on these).

Nothing here imports Django or pytest: callers decide what "ready" means and how a failure is reported.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

P = TypeVar("P", bound="ManagedProcess")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(command: list[str], log_path: Path, **popen: Any) -> subprocess.Popen:
    """Start ``command`` with its output (stdout and stderr) in ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)


def log_tail(log_path: Path | None, characters: int = 4000) -> str:
    if log_path is None or not log_path.exists():
        return ""
    return log_path.read_text(errors="replace")[-characters:]


def wait_until(
    ready: Callable[[], bool],
    what: str,
    *,
    process: subprocess.Popen | None = None,
    log_path: Path | None = None,
    timeout: float = START_TIMEOUT,
    interval: float = 0.1,
) -> None:
    """Poll ``ready`` until it holds. Raises RuntimeError with the log's tail when ``process`` exits first or
    ``timeout`` seconds pass; a ``requests`` error from ``ready`` (a refused connection) means "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited early (status {process.returncode}):\n{log_tail(log_path)}")
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(interval)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s:\n{log_tail(log_path)}")


def answers(url: str, *, status: int | None = None, timeout: float = 2.0) -> bool:
    """Whether ``url`` answers (with ``status``, if given; else any answer below 500 counts)."""
    response = requests.get(url, timeout=timeout)
    return response.status_code == status if status is not None else response.status_code < 500


def stop(*processes: subprocess.Popen | None, timeout: float = STOP_TIMEOUT) -> None:
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
    for process in processes:
        if process is not None and process.returncode is None:
            process.wait()


class ManagedProcess:
    """A subprocess started by ``start()`` (subclasses set ``self.process``), stopped on exit, even on errors."""

    process: subprocess.Popen | None = None
    name = "the server"
    log_path: Path

    def start(self) -> None:
        raise NotImplementedError

    def is_ready(self) -> bool:
        """Whether the server answers yet (an HTTP error means it does; a refused connection, not yet)."""
        raise NotImplementedError

    def launch(self, command: list[str], **popen: Any) -> None:
        """Start ``command`` with its output in ``log_path`` and wait until it answers (stopped if it never does)."""
        self.process = launch(command, self.log_path, **popen)
        try:
            wait_until(self.is_ready, self.name, process=self.process, log_path=self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        stop(self.process)
        self.process = None

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (Linux), to see what it costs on the shared cores."""
        from .measure import process_cpu_seconds

        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def __enter__(self: P) -> P:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

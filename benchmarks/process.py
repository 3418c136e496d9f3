"""A background server the benchmarks start and stop (the simulator, gunicorn): one lifecycle for all."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, TypeVar

import requests

from .measure import process_cpu_seconds

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

P = TypeVar("P", bound="ManagedProcess")


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
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if self.is_ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (Linux), to see what it costs on the shared cores."""
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def __enter__(self: P) -> P:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

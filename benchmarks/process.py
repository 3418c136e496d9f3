"""A background server the benchmarks start and stop (the simulator, gunicorn): one lifecycle for all."""

from __future__ import annotations

import subprocess
from typing import TypeVar

from .measure import process_cpu_seconds

STOP_TIMEOUT = 15.0

P = TypeVar("P", bound="ManagedProcess")


class ManagedProcess:
    """A subprocess started by ``start()`` (subclasses set ``self.process``), stopped on exit, even on errors."""

    process: subprocess.Popen | None = None

    def start(self) -> None:
        raise NotImplementedError

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

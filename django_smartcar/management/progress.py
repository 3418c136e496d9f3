"""Progress and summary output shared by the operator commands (smartcar_rotate_tokens, smartcar_sync)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from django.core.management.base import OutputWrapper


@dataclass
class Tally:
    """Counts outcomes, prints a progress line now and then on a terminal, and a summary at the end."""

    stdout: OutputWrapper
    stderr: OutputWrapper
    total: int | None = None
    every_seconds: float = 2.0
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    _last_print: float = field(default_factory=time.monotonic)

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self._maybe_print()

    def fail(self, label: str, reason: str) -> None:
        self.failures.append((label, reason))
        self.add("failed")

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def _maybe_print(self) -> None:
        # Progress only on a terminal: cron mails and CI logs get the summary alone.
        if not self.stderr.isatty() or time.monotonic() - self._last_print < self.every_seconds:
            return
        self._last_print = time.monotonic()
        of_total = f"/{self.total}" if self.total is not None else ""
        self.stderr.write(f"... {self.done}{of_total} done ({self._counts_text()})")

    def _counts_text(self) -> str:
        return ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.counts.items())) or "nothing"

    def summary(self) -> None:
        self.stdout.write(f"Done: {self._counts_text()}.")
        for label, reason in self.failures:
            self.stderr.write(f"  failed: {label}: {reason}")

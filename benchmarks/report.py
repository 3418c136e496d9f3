"""The results table: rows, verdicts against the issue's targets, and ``results.md`` with machine and date."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import django
from django.db import connection


@dataclass(frozen=True)
class Row:
    """One line of the table. ``met`` is None for a plain measurement that has no target."""

    benchmark: str
    measure: str
    result: str
    target: str = ""
    met: bool | None = None


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def verdict(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def table(rows: Iterable[Row]) -> str:
    lines = ["| Benchmark | Measure | Result | Target | Met |", "|---|---|---|---|---|"]
    lines += [f"| {r.benchmark} | {r.measure} | {r.result} | {r.target} | {verdict(r.met)} |" for r in rows]
    return "\n".join(lines)


def database_version() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return connection.vendor


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> list[str]:
    return [
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, Django {django.get_version()}, {database_version()}",
    ]


def missed(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.met is False]


def write_results(path: Path, rows: Sequence[Row], *, setup: Sequence[str], notes: Sequence[str]) -> None:
    """``results.md``: how to reproduce, the machine, the table, then what was measured how and any gaps."""
    gaps = missed(rows)
    parts = [
        "# django-smartcar benchmarks",
        "",
        "Produced by `make bench` (`python -m benchmarks`); see the README's Benchmarks section.",
        "",
        *machine(),
        "",
        table(rows),
        "",
        "## Set-up",
        "",
        *[f"- {line}" for line in setup],
        "",
        "## Targets and findings",
        "",
        (
            "Every target was met."
            if not gaps
            else f"{len(gaps)} target(s) missed: "
            + "; ".join(f"{r.benchmark}, {r.measure}" for r in gaps)
            + "."
        ),
        *[f"\n{note}" for note in notes],
        "",
    ]
    path.write_text("\n".join(parts))

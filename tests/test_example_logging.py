"""The example project's logging under the demo's Celery worker (``rundemo``): every record written once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .processes import ROOT, start_python, stop, wait_for

MARKER = "smartcar-log-probe-marker"

# Imported by the worker (``-I``); logs through django_smartcar's logger once the worker is ready, i.e. after
# Celery has set up (hijacked) the root logger, as every task's log call does.
PROBE = f'''
import logging

from celery.signals import worker_ready


@worker_ready.connect
def log_a_marker(**kwargs):
    logging.getLogger("django_smartcar.log_probe").info("{MARKER}")
'''


DEMO_WORKER_ARGS = [
    "-m",
    "celery",
    "-A",
    "example_project",
    "worker",
    "--pool",
    "threads",
    "--loglevel",
    "INFO",
]


def test_the_demo_worker_writes_each_django_smartcar_record_once(tmp_path: Path) -> None:
    (tmp_path / "smartcar_log_probe.py").write_text(PROBE)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "DATABASE_URL"}
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT / "example_project"), *sys.path]),
        VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'example.sqlite3'}",
        LOG_LEVEL="INFO",
    )
    # The worker as rundemo starts it (example_project's Celery app, threads pool, INFO), plus the probe.
    worker, log = start_python(
        "demo-worker",
        [*DEMO_WORKER_ARGS, "-I", "smartcar_log_probe"],
        env,
        tmp_path,
    )
    try:
        wait_for(lambda: MARKER in log.read_text(), "the worker to log the marker", [log], timeout=60)
    finally:
        stop(worker)  # reaped: everything it wrote is in the log now

    assert log.read_text().count(MARKER) == 1, log.read_text()[-3000:]

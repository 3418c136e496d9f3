"""``manage.py rundemo`` (what ``make demo`` runs) as a newcomer meets it: a busy port is one clear line, and a
first start on a fresh folder reaches its banner quickly without warnings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .processes import free_port

EXAMPLE_PROJECT = Path(__file__).resolve().parents[1] / "example_project"
FIRST_START_SECONDS = 20


def demo_environment(var_dir: Path, port: int) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
        and not key.startswith("SMARTCAR_")
    }
    environment.update(VAR_DIR=str(var_dir), SITE_URL=f"http://127.0.0.1:{port}", PYTHONUNBUFFERED="1")
    return environment


def rundemo(port: int, var_dir: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}", "--no-celery"],
        cwd=EXAMPLE_PROJECT,
        env=demo_environment(var_dir, port),
        text=True,
        **kwargs,
    )


def test_a_busy_port_is_one_clear_line_and_exit_code_1(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = rundemo(port, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 1
    assert stderr.splitlines() == [
        f"Port {port} on 127.0.0.1 is in use; stop what uses it or run `make demo PORT={port + 1}`."
    ]
    assert "Traceback" not in stdout + stderr and "django-smartcar demo on" not in stdout
    # Checked before anything else: nothing was migrated or created.
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.timeout(120)
def test_a_first_start_reaches_the_banner_quickly_and_quietly(tmp_path):
    port = free_port()
    log_path = tmp_path / "rundemo.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        process = rundemo(port, tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        while "Quit the server with" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() - started < FIRST_START_SECONDS, log_path.read_text()
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # serving
    finally:
        process.terminate()
        process.wait(timeout=20)

    output = log_path.read_text()
    assert output.count("django-smartcar demo on") == 1
    # The demo's simulator answers with Smartcar's latency, compressed (the demo's default; tests set their own).
    assert "The simulator answers with Smartcar's latency at 0.02 of real time" in output
    # New connections use API V3, as Smartcar recommends, and the banner says how to pick v2.
    assert "New connections use Smartcar API V3" in output and "SMARTCAR_API_VERSION=2.0" in output
    assert "warning" not in output.lower() and "Traceback" not in output, output

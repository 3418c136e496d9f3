"""The README's Installation section, run as written: a ``django-admin startproject`` site with the README's
settings and URLs appended, ``migrate`` and ``check`` from the command line, the standalone simulator and the
development server, then Connect -> callback -> the vehicles over HTTP, as a newcomer would meet them.

The blocks are read from README.rst (by their ``:name:``), never copied here; only the ports are changed, so
that the test runs beside anything already listening on 8000 or 8765.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import docutils.core
import pytest
import requests
from docutils import nodes

from django_smartcar.simulator.testing import complete_connect

from .conftest import DRIVER_EMAIL
from .processes import free_port, start_python, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
README_SITE_PORT, README_SIMULATOR_PORT = "8000", "8765"
USERNAME, PASSWORD = "newcomer", "a-long-password-for-the-test"


def readme_blocks() -> dict[str, str]:
    document = docutils.core.publish_doctree(
        (ROOT / "README.rst").read_text(), settings_overrides={"report_level": 5}
    )
    return {
        name: block.astext() for block in document.findall(nodes.literal_block) for name in block["names"]
    }


def with_ports(text: str, site_port: int, simulator_port: int) -> str:
    text = re.sub(rf":{README_SITE_PORT}\b", f":{site_port}", text)
    return re.sub(rf"\b{README_SIMULATOR_PORT}\b", str(simulator_port), text)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{shlex.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def shell_environment(block: str, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """The environment after running the README's ``export`` lines in bash."""
    result = run(["bash", "-euc", f"{block}\nenv -0"], cwd, env)
    return dict(entry.split("=", 1) for entry in result.stdout.split("\0") if "=" in entry)


@pytest.fixture
def newcomer_env() -> dict[str, str]:
    """A shell's environment: this virtualenv's ``python`` and ``django-admin`` first on PATH, none of the
    suite's own Django settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH") and not key.startswith("SMARTCAR_")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.timeout(180)
def test_the_readme_installation_works_on_a_fresh_startproject_site(tmp_path, newcomer_env):
    blocks = readme_blocks()
    site_port, simulator_port = free_port(), free_port()
    base = f"http://127.0.0.1:{site_port}"

    run(["django-admin", "startproject", "mysite"], tmp_path, newcomer_env)
    site = tmp_path / "mysite"
    with (site / "mysite" / "settings.py").open("a") as settings_file:
        settings_file.write("\n\n" + blocks["install-settings"] + "\n")
    with (site / "mysite" / "urls.py").open("a") as urls_file:
        urls_file.write("\n\n" + blocks["install-urls"] + "\n")

    env = shell_environment(
        with_ports(blocks["install-simulator-environment"], site_port, simulator_port), newcomer_env, site
    )
    run(["python", "manage.py", "migrate", "--noinput"], site, env)
    checked = run(["python", "manage.py", "check", "--fail-level", "WARNING"], site, env)
    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr
    run(
        ["python", "manage.py", "createsuperuser", "--noinput"],
        site,
        {
            **env,
            "DJANGO_SUPERUSER_USERNAME": USERNAME,
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            "DJANGO_SUPERUSER_EMAIL": "newcomer@example.com",
        },
    )

    simulator_line = blocks["install-simulator"].replace("\\\n", " ")
    simulator_command = shlex.split(with_ports(simulator_line, site_port, simulator_port))
    assert simulator_command[0] == "python"
    simulator, simulator_log = start_python("simulator", simulator_command[1:], newcomer_env, tmp_path)
    server, server_log = start_python(
        "runserver",
        [str(site / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{site_port}"],
        env,
        tmp_path,
    )
    try:
        logs = [simulator_log, server_log]
        health = f"http://127.0.0.1:{simulator_port}/_simulator/health"
        wait_for(lambda: answers(health, simulator, simulator_log), "the simulator", logs, timeout=30)
        wait_for(lambda: answers(f"{base}/admin/login/", server, server_log), "the server", logs, timeout=30)
        browser = requests.Session()

        # Signed out, Connect sends the user to a sign-in page that exists (LOGIN_URL), not to a 404.
        signed_out = browser.get(f"{base}/smartcar/connect/", timeout=10)
        assert signed_out.status_code == 200, signed_out.url
        assert (
            urlsplit(signed_out.url).path == "/admin/login/" and "next=/smartcar/connect/" in signed_out.url
        )

        signed_in = browser.post(
            signed_out.url,
            {
                "username": USERNAME,
                "password": PASSWORD,
                "next": "/smartcar/connect/",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/smartcar/connect/"

        to_smartcar = browser.get(f"{base}/smartcar/connect/", allow_redirects=False, timeout=10)
        assert to_smartcar.status_code == 302
        authorize_url = to_smartcar.headers["Location"]
        assert authorize_url.startswith(f"http://127.0.0.1:{simulator_port}/oauth/authorize?")

        # Brand, email and Allow on the simulator's Connect pages, then back to the site's callback.
        callback_url = complete_connect(authorize_url, email=DRIVER_EMAIL)
        assert callback_url.startswith(f"{base}/smartcar/callback/?")
        landed = browser.get(callback_url, timeout=30)

        assert landed.status_code == 200, landed.text[:2000]
        assert urlsplit(landed.url).path == "/smartcar/"
        assert "Connected 3 vehicles through Smartcar." in landed.text
        assert len(re.findall(r'class="smartcar-vehicle"', landed.text)) == 3
        assert re.search(r"\b20\d\d [A-Z]+ \w", landed.text), landed.text  # year, make, model
    finally:
        stop(server, simulator)


def answers(url: str, process: subprocess.Popen, log: Path) -> bool:
    if process.poll() is not None:
        pytest.fail(f"{log.stem} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False

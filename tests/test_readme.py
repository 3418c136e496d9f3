"""The README stays true to the code: its Python examples compile, the ones that can run do, and what it lists
(settings, signals, checks, commands, the example project's environment) is complete."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import celery
import docutils.core
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLResolver
from docutils import nodes

from django_smartcar import signals
from django_smartcar.beat import beat_schedule
from django_smartcar.conf import DEFAULTS
from django_smartcar.models import SmartcarAccount
from django_smartcar.simulator.testing import complete_connect

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.rst"


def parse_readme(report_level: int = 5) -> nodes.document:
    return docutils.core.publish_doctree(
        README.read_text(),
        settings_overrides={"report_level": report_level, "halt_level": report_level},
    )


def python_examples() -> list[tuple[str, str]]:
    """Every ``.. code-block:: python`` as ``(name, source)``; unnamed blocks are named by their position."""
    examples = []
    for position, block in enumerate(parse_readme().findall(nodes.literal_block)):
        if "python" in block["classes"]:
            names = block.get("names") or [f"python-block-{position}"]
            examples.append((names[0], block.astext()))
    return examples


EXAMPLES = dict(python_examples())
README_TEXT = README.read_text()


def run_example(name: str, namespace: dict | None = None) -> dict:
    namespace = {} if namespace is None else namespace
    exec(compile(EXAMPLES[name], f"README.rst:{name}", "exec"), namespace)
    return namespace


def test_readme_renders_without_warnings():
    # Raises on the first warning (a broken table, link or directive), as PyPI's renderer would reject it.
    parse_readme(report_level=2)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_python_example_compiles(name):
    compile(EXAMPLES[name], f"README.rst:{name}", "exec")


def test_the_examples_the_tests_run_are_in_the_readme():
    assert {
        "install-settings",
        "install-urls",
        "services-view",
        "signals-receiver",
        "celery-app",
        "client-connect",
        "client-vehicle",
        "simulator-python",
        "production-settings",
    } <= set(EXAMPLES)


def test_installation_settings_use_real_settings():
    # The block is appended to startproject's settings.py, which defines INSTALLED_APPS.
    namespace = run_example("install-settings", {"INSTALLED_APPS": ["django.contrib.admin"]})
    assert namespace["INSTALLED_APPS"][-2:] == ["rest_framework", "django_smartcar"]
    assert set(namespace["SMARTCAR"]) <= set(DEFAULTS)
    assert namespace["LOGIN_URL"] == "admin:login"


def test_installation_urls_include_the_apps_urls():
    (pattern,) = run_example("install-urls", {"urlpatterns": []})["urlpatterns"]
    assert isinstance(pattern, URLResolver)
    assert str(pattern.pattern) == "smartcar/"
    assert pattern.namespace == "django_smartcar"


def test_services_view_example_defines_the_view():
    assert callable(run_example("services-view")["lock"])


def test_signal_receiver_example_mails_the_owner(mailoutbox):
    receiver_function = run_example("signals-receiver")["ask_owner_to_reconnect"]
    owner = SimpleNamespace(email="ann@example.com")
    try:
        signals.reauth_required.send(
            sender=SmartcarAccount, account=SimpleNamespace(owner=owner), reason="invalid_grant"
        )
    finally:
        signals.reauth_required.disconnect(receiver_function)
    (mail,) = mailoutbox
    assert mail.to == ["ann@example.com"]
    assert "reconnect" in mail.subject


def test_celery_example_merges_the_smartcar_schedule():
    previous_app = celery.current_app._get_current_object()
    try:
        # The namespace stays alive, as a module's globals would: the signal holds its receiver weakly.
        celery_module = run_example("celery-app")
        schedule = celery_module["app"].conf.beat_schedule
    finally:
        previous_app.set_current()
    assert set(beat_schedule()) <= set(schedule)
    rotation = schedule["django-smartcar-rotate-expiring-tokens"]
    assert rotation["task"] == "django_smartcar.rotate_expiring_tokens"


def test_client_example_runs_against_the_simulator(simulator, monkeypatch):
    # The example reads its credentials and origins from the environment, as the official SDK does.
    monkeypatch.setenv("SMARTCAR_CLIENT_ID", simulator.client_id)
    monkeypatch.setenv("SMARTCAR_CLIENT_SECRET", simulator.client_secret)
    monkeypatch.setenv("SMARTCAR_REDIRECT_URI", simulator.redirect_uri)
    monkeypatch.setenv("SMARTCAR_CONNECT_ORIGIN", simulator.base_url)
    monkeypatch.setenv("SMARTCAR_AUTH_ORIGIN", f"{simulator.base_url}/oauth/token")
    monkeypatch.setenv("SMARTCAR_API_ORIGIN", simulator.base_url)
    monkeypatch.setenv("SMARTCAR_MANAGEMENT_API_ORIGIN", simulator.base_url)

    namespace = run_example("client-connect", {"state": "readme-state"})
    redirect = urlsplit(complete_connect(namespace["url"], email=simulator.email))
    query = parse_qs(redirect.query)
    assert query["state"] == ["readme-state"]

    namespace["code"] = query["code"][0]
    run_example("client-vehicle", namespace)
    assert namespace["odometer"].distance > 0
    assert namespace["odometer"].meta.request_id
    batch = namespace["batch"]
    assert batch.errors == {}
    assert -90 <= batch.result("/location").latitude <= 90
    assert batch["/odometer"]["code"] == 200


@pytest.mark.django_db
def test_simulator_python_api_example_runs():
    namespace = run_example("simulator-python")
    assert len(namespace["cars"]) == 3
    assert namespace["ev"].make == "TESLA"
    assert namespace["tokens"]["access_token"]


def test_production_settings_example_reads_the_environment(monkeypatch):
    environment = {
        "SECRET_KEY": "production-secret",
        "ALLOWED_HOSTS": "cars.example.com",
        "DATABASE_URL": "postgres://cars:pw@127.0.0.1:5432/cars",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "SMARTCAR_CLIENT_ID": "client-id",
        "SMARTCAR_CLIENT_SECRET": "client-secret",
        "SMARTCAR_REDIRECT_URI": "https://cars.example.com/smartcar/callback/",
        "SMARTCAR_ENCRYPTION_KEYS": "new-key,old-key",
        "SMARTCAR_MANAGEMENT_TOKEN": "amt",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    namespace = run_example("production-settings")

    assert namespace["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert namespace["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert namespace["SMARTCAR"]["ENCRYPTION_KEYS"] == ["new-key", "old-key"]
    assert namespace["SMARTCAR"]["MANAGEMENT_TOKEN"] == ["amt"]
    assert set(namespace["SMARTCAR"]) <= set(DEFAULTS)
    # A missing secret stops start-up instead of running half-configured, as the README says.
    monkeypatch.delenv("SMARTCAR_CLIENT_SECRET")
    with pytest.raises(ImproperlyConfigured):
        run_example("production-settings")


def test_every_setting_is_documented():
    missing = [name for name in DEFAULTS if f"``{name}``" not in README_TEXT]
    assert missing == []


def test_every_signal_is_documented_with_its_arguments():
    names = [name for name, value in vars(signals).items() if isinstance(value, signals.Signal)]
    assert names
    missing = [name for name in names if f"``{name}(sender=" not in README_TEXT]
    assert missing == []


def test_every_system_check_is_documented():
    checks_source = (ROOT / "django_smartcar/checks.py").read_text()
    codes = set(re.findall(r'id="django_smartcar\.([EW]\d{3})"', checks_source))
    assert codes
    assert sorted(code for code in codes if not re.search(rf"\b{code}\b", README_TEXT)) == []


def test_every_management_command_is_documented():
    modules = [
        *ROOT.glob("django_smartcar/**/management/commands/*.py"),
        *ROOT.glob("example_project/*/management/commands/*.py"),
    ]
    commands = [path.stem for path in modules if not path.name.startswith("_")]
    assert "smartcar_rotate_tokens" in commands and "rundemo" in commands
    missing = [name for name in commands if f"manage.py {name}" not in README_TEXT]
    assert missing == []


def test_every_environment_variable_of_the_example_project_is_documented():
    settings_source = (ROOT / "example_project/example_project/settings.py").read_text()
    names = set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL", "USE_SIMULATOR"} <= names
    assert sorted(name for name in names if f"``{name}``" not in README_TEXT) == []

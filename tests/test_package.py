"""The installed package is importable and ships what its users rely on; building it warns about nothing of
ours."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import django_smartcar

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: the packaging files and the package itself (copied, so the build leaves no trace here).
BUILD_INPUTS = ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.rst", "LICENSE")
# Lines of the build output that are about this project's packaging: setuptools' warning classes
# (SetuptoolsDeprecationWarning, BuildBackendWarning...) and its "warning: no files found matching ..." notes.
OUR_WARNING = re.compile(r"\w*Warning\b|^\s*warning: (?!.*byte-compiling is disabled)", re.MULTILINE)


def test_package_ships_py_typed():
    assert (Path(django_smartcar.__file__).parent / "py.typed").is_file()


def test_version_is_a_release_string():
    parts = django_smartcar.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_the_wheel_builds_without_warnings_and_ships_templates_migrations_and_license(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "django_smartcar", source / "django_smartcar", ignore=shutil.ignore_patterns("__pycache__")
    )

    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", ".", "-w", "dist"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # pip's own notes about this machine's indexes are not the project's.
    ours = [line for line in output.splitlines() if OUR_WARNING.search(line) and "is ignored" not in line]
    assert ours == []
    (wheel,) = (source / "dist").glob("django_smartcar-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(name).decode() for name in names if name.endswith(".dist-info/METADATA"))
    for shipped in (
        "django_smartcar/py.typed",
        "django_smartcar/migrations/0001_initial.py",
        "django_smartcar/simulator/migrations/0001_initial.py",
        "django_smartcar/templates/django_smartcar/base.html",
        "django_smartcar/templates/django_smartcar/connections.html",
        "django_smartcar/templates/admin/django_smartcar/confirm_action.html",
        "django_smartcar/simulator/templates/smartcar_simulator/grant.html",
    ):
        assert shipped in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: MIT" in metadata and "License ::" not in metadata
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)

"""The installed package is importable and ships what its users rely on; building it warns about nothing of
ours; it depends on what it imports, and the versions it declares agree with the ones tested."""

import ast
import configparser
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import django_smartcar

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: the packaging files and the package itself (copied, so the build leaves no trace here).
BUILD_INPUTS = ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.rst", "CHANGELOG.rst", "LICENSE")
# Lines of the build output that are about this project's packaging: setuptools' warning classes
# (SetuptoolsDeprecationWarning, BuildBackendWarning...) and its "warning: no files found matching ..." notes.
OUR_WARNING = re.compile(r"\w*Warning\b|^\s*warning: (?!.*byte-compiling is disabled)", re.MULTILINE)
# Beside the sources, what a working copy holds and no distribution may: a virtualenv, the demo's files,
# compiled files, the test suite.
STRAYS = (
    ".venv/lib/python3/site-packages/stray.py",
    "example_project/var/db.sqlite3",
    "var/celery/stray.msg",
    "django_smartcar/__pycache__/stray.cpython-311.pyc",
    "django_smartcar/stray.pyc",
    "tests/test_stray.py",
)


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def build(command: list[str], cwd: Path) -> None:
    """Run a build step; fail on an error or on any warning about this project's packaging."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # pip's own notes about this machine's indexes are not the project's.
    ours = [line for line in output.splitlines() if OUR_WARNING.search(line) and "is ignored" not in line]
    assert ours == []


def test_package_ships_py_typed():
    assert (Path(django_smartcar.__file__).parent / "py.typed").is_file()


def test_version_is_a_release_string():
    parts = django_smartcar.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_the_sdist_and_the_wheel_build_without_warnings_and_ship_what_users_rely_on(tmp_path):
    # As ``python -m build`` does: the sdist from the working copy, then the wheel from the unpacked sdist.
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "django_smartcar", source / "django_smartcar", ignore=shutil.ignore_patterns("__pycache__")
    )
    for stray in STRAYS:
        (source / stray).parent.mkdir(parents=True, exist_ok=True)
        (source / stray).write_text("")

    # setuptools' build hook, called as ``python -m build --sdist`` calls it (without isolation).
    build([sys.executable, "-c", "from setuptools import build_meta; build_meta.build_sdist('dist')"], source)
    (sdist,) = (source / "dist").glob("django_smartcar-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
        top = f"{archive.getnames()[0].split('/')[0]}/"
        in_sdist = {name.removeprefix(top) for name in archive.getnames()}
    for shipped in (
        "README.rst",
        "CHANGELOG.rst",
        "LICENSE",
        "setup.cfg",
        "pyproject.toml",
        "django_smartcar/py.typed",
        "django_smartcar/migrations/0001_initial.py",
        "django_smartcar/simulator/migrations/0001_initial.py",
        "django_smartcar/templates/django_smartcar/connections.html",
        "django_smartcar/simulator/templates/smartcar_simulator/grant.html",
    ):
        assert shipped in in_sdist
    assert not [name for name in in_sdist if "stray" in name or name.startswith(("tests", ".venv", "var"))]

    (unpacked,) = (tmp_path / "unpacked").iterdir()
    build(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", ".", "-w", "dist"],
        unpacked,
    )
    (wheel,) = (unpacked / "dist").glob("django_smartcar-*.whl")
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
    assert not [
        name for name in names if "stray" in name or "__pycache__" in name or name.startswith("tests/")
    ]


def run_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:``, which only the type checker imports."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                yield child
                yield from run_time_nodes(child)
            continue
        yield node
        yield from run_time_nodes(node)


def imported_distributions(package: Path) -> set[str]:
    """The distributions whose modules the package's own code imports (the standard library left out)."""
    modules: set[str] = set()
    for path in package.rglob("*.py"):
        for node in run_time_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {package.name}
    providers = packages_distributions()
    assert modules <= set(providers), f"imported but not installed: {modules - set(providers)}"
    return {canonical(distribution) for module in modules for distribution in providers[module]}


def test_the_app_requires_exactly_the_distributions_it_imports():
    # Extras (demo, test, bench) are for the example project, the tests and the benchmarks, not the app.
    required = {
        canonical(re.match(r"[\w.-]+", line).group())
        for line in requires("django-smartcar") or []
        if "extra ==" not in line
    }
    assert required == imported_distributions(ROOT / "django_smartcar")


def test_the_declared_versions_agree_with_the_tested_ones():
    # Said in more than one file because each tool reads its own: setup.cfg (metadata), tox.ini (the test
    # matrix), pyproject.toml (ruff, which reads the oldest Python only from a [project] table).
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    classifiers = setup["metadata"]["classifiers"]
    pythons = sorted(re.findall(r"Python :: 3\.(\d+)$", classifiers, re.MULTILINE), key=int)
    djangos = set(re.findall(r"Framework :: Django :: (\d+)\.(\d+)$", classifiers, re.MULTILINE))
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    envlist = tox["tox"]["envlist"]
    tox_pythons = {
        env.removeprefix("3") for group in re.findall(r"py\{([\d,]+)\}", envlist) for env in group.split(",")
    }
    tox_djangos = {(env[0], env[1:]) for env in re.findall(r"django(\d+)", envlist)}

    assert pythons and djangos
    assert set(pythons) == tox_pythons
    assert djangos == tox_djangos
    assert setup["options"]["python_requires"] == f">=3.{pythons[0]}"
    (ruff_target,) = re.findall(
        r'^target-version = "(\w+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE
    )
    assert ruff_target == f"py3{pythons[0]}"

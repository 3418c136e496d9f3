"""The installed package is importable and ships what its users rely on."""

from pathlib import Path

import django_smartcar


def test_package_ships_py_typed():
    assert (Path(django_smartcar.__file__).parent / "py.typed").is_file()


def test_version_is_a_release_string():
    parts = django_smartcar.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)

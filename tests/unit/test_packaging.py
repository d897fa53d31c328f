"""What a plain (not editable) install ships: every package of the source tree is listed in
pyproject.toml. The tests run on an editable install, which finds any package in the
tree, so a package missing from the list only failed for users (`./bootstrap.sh bench`
installs the plugin for real: `No module named 'pytest_fioloadgen.faults'`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def listed() -> set[str]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(setuptools["packages"])


def packages_under(directory: Path, name: str) -> set[str]:
    """Dotted names of the directories with an __init__.py below ``directory``."""
    return {
        ".".join((name, *init.parent.relative_to(directory).parts))
        for init in directory.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_every_package_of_the_tree_is_installed() -> None:
    tree = packages_under(ROOT / "pytest_fioloadgen", "pytest_fioloadgen")
    tree |= packages_under(ROOT / "server", "fioloadgen_server")
    missing = sorted(tree - listed())
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {missing}"

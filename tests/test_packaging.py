"""What the wheel must contain, checked without building it.

setuptools ships the package's Python modules by itself; every other file (templates, static
files, translations) ships only if a ``package-data`` glob in pyproject.toml matches it. A
new kind of file in a new folder would otherwise work from a checkout and be missing from the
wheel. The built sdist and wheel are checked by ``.ci/check_dist.py`` (``make dist``).
"""

import glob
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wagtail_coaching"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What a host cannot do without: one of each kind, named so the globs cannot match nothing.
MUST_SHIP = [
    "templates/wagtail_coaching/base.html",
    "templates/wagtail_coaching/emails/welcome.txt",
    "static/wagtail_coaching/coaching.css",
]


def data_files():
    """The package's files that are not Python modules (nor their compiled forms)."""
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".py", ".pyc"}
    }


def shipped(patterns):
    return {
        name
        for pattern in patterns
        for name in glob.glob(pattern, root_dir=PACKAGE, recursive=True)
        if (PACKAGE / name).is_file()
    }


def test_every_data_file_of_the_package_is_in_package_data():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["wagtail_coaching"]
    assert data_files() - shipped(patterns) == set()
    assert set(MUST_SHIP) <= shipped(patterns)


def test_every_folder_of_code_is_a_package():
    # packages.find ships folders with an __init__.py; migrations and commands must be among
    # them or the wheel installs without its tables or its commands.
    for folder in ("migrations", "management", "management/commands", "templatetags"):
        assert (PACKAGE / folder / "__init__.py").is_file(), folder
    code_folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert all((folder / "__init__.py").is_file() for folder in code_folders)


def test_the_metadata_renders_on_an_index():
    project = PYPROJECT["project"]
    assert project["readme"] == {"file": "README.md", "content-type": "text/markdown"}
    (setuptools,) = PYPROJECT["build-system"]["requires"]
    assert int(setuptools.removeprefix("setuptools>=").split(".")[0]) >= 77  # SPDX license
    assert not any(c.startswith("License ::") for c in project["classifiers"])


def test_make_install_brings_the_docs_tools():
    # `make install` installs the dev extra; `make docs` and CI's docs step need Sphinx from it.
    extras = PYPROJECT["project"]["optional-dependencies"]
    (own,) = [r for r in extras["dev"] if r.startswith("wagtail-coaching[")]
    assert "docs" in own.removeprefix("wagtail-coaching[").rstrip("]").split(",")
    assert any(r.startswith("sphinx") for r in extras["docs"])

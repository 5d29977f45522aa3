"""Sphinx configuration of the wagtail-coaching documentation: `make docs` builds it into
docs/_build/html with warnings as errors."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

project = "wagtail-coaching"
author = "the wagtail-coaching authors"
copyright = f"2026, {author}"
release = _project["version"]
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# Links between pages are written as [text](page.md#heading), so they also work on a git host.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = f"wagtail-coaching {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_css_files = ["coaching-docs.css"]

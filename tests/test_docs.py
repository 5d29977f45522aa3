"""The README stays a short front page and the docs/ pages stay in step with the code.

`make docs` (a CI step) builds docs/ with warnings as errors, which catches broken links and
anchors inside the site; these tests need no Sphinx and check what the build cannot see.
"""

import re
from pathlib import Path

import pytest

from wagtail_coaching.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# [text](target) and ![alt](target); a target ends at the first space or closing bracket.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def links(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # not inside code blocks
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def docs_pages():
    return sorted(p.relative_to(ROOT).as_posix() for p in DOCS.glob("*.md"))


def test_the_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines: move the detail to docs/"


def test_the_readme_keeps_the_two_setup_commands():
    readme = README.read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_the_readme_links_only_to_what_exists():
    targets = links(README)
    assert targets
    for target in targets:
        assert (ROOT / target.split("#")[0]).exists(), target


def test_the_readme_links_every_docs_page():
    linked = {t.split("#")[0] for t in links(README)}
    assert [page for page in docs_pages() if page not in linked] == []


@pytest.mark.parametrize("page", docs_pages())
def test_links_between_docs_pages_point_at_files(page):
    path = ROOT / page
    for target in links(path):
        assert (path.parent / target.split("#")[0]).exists(), (page, target)


def test_every_setting_is_in_the_configuration_reference():
    reference = (DOCS / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", reference, re.M))
    assert set(DEFAULTS) - documented == set()
    assert documented - set(DEFAULTS) == set()

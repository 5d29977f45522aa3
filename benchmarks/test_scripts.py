"""Every benchmark script still runs: each ``benchmarks/bench_*.py`` with ``--quick`` on a
throwaway SQLite file, in a subprocess, and writes a finished results file with figures.

The figures mean nothing at these sizes; this only keeps the scripts from rotting. One
migrated SQLite file is made first and copied for each script (``BENCH_SQLITE_TEMPLATE``),
so no script spends its time migrating. They are not part of the test suite (``make test``):
CI runs them as a step of their own, as does ``make bench-smoke``.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))

def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE",
                        "BENCH_DATABASE_URL", "DRAMATIQ_NAMESPACE")}
    # No Redis: the invitations benchmark runs its worker in-process on the StubBroker.
    return {**env, "BENCH_REDIS_URL": "none", **extra}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "template_bench.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
        env=clean_env(DATABASE_URL=f"sqlite:///{path}", DJANGO_SETTINGS_MODULE="sandbox.settings"),
        check=True, capture_output=True, timeout=300,
    )
    return path


def test_every_script_is_found():
    names = {p.stem for p in SCRIPTS}
    assert {"bench_pages", "bench_journeys", "bench_webhooks", "bench_invitations",
            "bench_seats", "bench_load"} <= names


# Scripts that serve the sandbox or drive a load need the ``sandbox`` and ``dev`` extras; a
# lane installed with the ``test`` extra alone (the Django 6 lane) skips them.
NEEDS = {"bench_load": ("gunicorn", "locust"), "bench_webhooks": ("gunicorn",)}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_quick_on_sqlite(script, template, tmp_path):
    missing = [m for m in NEEDS.get(script.stem, ()) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script.stem} needs {', '.join(missing)} (the sandbox and dev extras)")
    results = tmp_path / "results"
    database = tmp_path / f"coaching_bench_{script.stem}.sqlite3"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--database-url", f"sqlite:///{database}"],
        cwd=ROOT, env=clean_env(BENCH_RESULTS_DIR=str(results),
                                BENCH_SQLITE_TEMPLATE=str(template)),
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    data = json.loads((results / f"{script.stem}.json").read_text())
    assert data["finished"] is True
    assert data["database"].startswith("SQLite")
    assert data["figures"], "no figures recorded"
    for figure in data["figures"]:
        assert {"name", "value", "unit", "target", "met", "command"} <= set(figure)
        assert figure["command"].startswith(".venv/bin/python benchmarks/") or \
            "benchmarks/" in figure["command"]
        # A target that is a fact rather than a speed holds even on SQLite.
        if figure["target"] in ("= 0",) or str(figure["target"]).startswith(("= ", "constant")):
            assert figure["met"] is True, figure

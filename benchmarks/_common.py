"""What every benchmark script shares: its throwaway database, Django set-up, timers, a
gunicorn server, and the results protocol.

The results protocol
--------------------
A script calls ``begin(args)`` once its options are parsed, ``record(...)`` for every figure
and ``finish()`` at the end. Each ``record`` rewrites ``benchmarks/results/<script>.json``
(or ``$BENCH_RESULTS_DIR/<script>.json``), so a run that crashes half-way keeps the figures
it had; ``finished`` stays false until ``finish()``. ``benchmarks/_report.py`` turns every
such file into ``benchmarks/RESULTS.md``. The file::

    {"script": "bench_pages", "database": "postgresql 15.2", "finished": true,
     "started_at": "...", "seconds": 81.2, "command": ".venv/bin/python benchmarks/...",
     "figures": [{"name": "...", "value": 1.21, "unit": "x", "target": "<= 1.5",
                  "met": true, "command": "...", "detail": "..."}]}

``met`` is true, false or null (a figure reported without a target).

Databases
---------
A script never touches a database it did not create: PostgreSQL databases and SQLite files
are dropped and re-created only if their name contains ``bench``. Without
``--database-url`` a script uses ``coaching_bench_<name>`` on the server of
``BENCH_DATABASE_URL`` or ``DATABASE_URL`` (PostgreSQL on 127.0.0.1 by default); an SQLite
``DATABASE_URL`` gives a file of that name in the system's temporary folder.
"""

import argparse
import contextlib
import datetime
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/coaching_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
SETTINGS_MODULE = "_bench_settings"
PROTECTED = {"postgres", "test", "template0", "template1"}
# The Stripe webhook secret of the benchmark site (_bench_settings.py).
WEBHOOK_SECRET = "whsec_benchmark_only"


# -- Options ---------------------------------------------------------------------------------


def script_name():
    return Path(sys.argv[0]).stem


def parser(doc):
    """An ArgumentParser with the options every script takes."""
    p = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(doc.strip().splitlines()[1:]),
    )
    p.add_argument(
        "--database-url", default=None,
        help="database to (re)create and use, PostgreSQL or SQLite; its name must contain "
             "'bench' (default: coaching_bench_<script> on the server of "
             "BENCH_DATABASE_URL or DATABASE_URL, else local PostgreSQL)",
    )
    p.add_argument("--quick", action="store_true",
                   help="the smallest sizes, to check that the script still runs")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return p


def add_redis_option(p):
    p.add_argument(
        "--redis-url", default=None,
        help="Redis for the dramatiq broker (default: BENCH_REDIS_URL, REDIS_URL or "
             f"{DEFAULT_REDIS}); 'none' runs the worker in-process on the StubBroker",
    )


def default_database_url(name):
    base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or (
        DEFAULT_SERVER
    )
    db = f"coaching_bench_{name.removeprefix('bench_')}"
    if base.startswith("sqlite:"):
        return f"sqlite:///{Path(tempfile.gettempdir()) / (db + '.sqlite3')}"
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{db}"))


def resolve_redis_url(value):
    value = value or os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or (
        DEFAULT_REDIS
    )
    return None if value == "none" else value


# -- The results protocol --------------------------------------------------------------------

_run = {}


def results_dir():
    return Path(os.environ.get("BENCH_RESULTS_DIR") or BENCH_DIR / "results")


def results_path():
    return results_dir() / f"{_run['script']}.json"


def python_cmd():
    """How the docs spell the interpreter: the project's venv, relative to its root."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(ROOT))
    except ValueError:
        return ".venv/bin/python" if exe.parent.parent.name == ".venv" else exe.name


def command_line(*extra):
    """The command that reproduces this run (the options that came from defaults made
    explicit with ``extra``)."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join([python_cmd(), str(script), *sys.argv[1:], *extra])


def begin(args, *, database_url, redis_url=None, defaults=()):
    """Start this script's results file (emptying an earlier one). ``defaults``: options
    taken from the environment, spelled out in the recorded command."""
    extra = list(defaults)
    if args.database_url is None:
        extra += ["--database-url", database_url]
    if hasattr(args, "redis_url") and args.redis_url is None:
        extra += ["--redis-url", redis_url or "none"]
    _run.clear()
    _run.update(
        script=script_name(),
        command=command_line(*extra),
        database=database_url.split("://")[0],
        started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        started=time.perf_counter(),
        finished=False,
        seconds=None,
        figures=[],
    )
    _write()


def set_database_vendor(text):
    _run["database"] = text
    _write()


def record(name, value, unit, *, target=None, met=None, command=None, detail=""):
    """One figure of this run, written to the results file at once (and printed).

    ``target`` is what the figure should be, as text (``"<= 1.5"``); ``met`` whether it is;
    leave both None for a figure reported without a target. ``command`` defaults to this
    script's own command line.
    """
    figure = {
        "name": name,
        "value": value,
        "unit": unit,
        "target": target,
        "met": None if met is None else bool(met),
        "command": command or _run.get("command") or command_line(),
        "detail": detail,
    }
    _run.setdefault("figures", []).append(figure)
    verdict = "" if met is None else ("  met" if met else "  NOT MET")
    shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(
        value, int) else str(value)
    print(f"  {name}: {shown} {unit}"
          + (f"  (target {target}{verdict})" if target else "")
          + (f"  [{detail}]" if detail else ""), flush=True)
    _write()
    return figure


def finish():
    _run["finished"] = True
    _run["seconds"] = round(time.perf_counter() - _run["started"], 1)
    _write()
    print(f"{_run['script']}: {len(_run['figures'])} figures in {_run['seconds']:.0f} s "
          f"-> {results_path()}", flush=True)


def _write():
    if not _run:
        return
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in _run.items() if k != "started"}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# -- Databases -------------------------------------------------------------------------------


def is_postgres(url):
    return url.startswith(("postgres://", "postgresql://"))


def _pg_name(url):
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(url).get("dbname")


def _sqlite_path(url):
    return Path(urlsplit(url).path)


def _check_name(name):
    if not name or name in PROTECTED or "bench" not in name:
        sys.exit(f"refusing to drop database {name!r}: give the benchmark its own database "
                 "(a name containing 'bench')")


def _pg_admin(url, *statements):
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        for statement, *names in statements:
            conn.execute(sql.SQL(statement).format(*[sql.Identifier(n) for n in names]))


def recreate_database(url):
    """Drop and create the benchmark database (an SQLite file is deleted)."""
    if is_postgres(url):
        name = _pg_name(url)
        _check_name(name)
        _pg_admin(url, ("DROP DATABASE IF EXISTS {} WITH (FORCE)", name),
                  ("CREATE DATABASE {}", name))
    else:
        path = _sqlite_path(url)
        _check_name(path.stem)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        template = os.environ.get("BENCH_SQLITE_TEMPLATE")
        if template and Path(template).exists():
            # A migrated copy (the smoke test makes one): migrate then has nothing to do.
            shutil.copyfile(template, path)


def drop_database(url):
    from django.db import connections

    connections.close_all()
    if is_postgres(url):
        name = _pg_name(url)
        _check_name(name)
        _pg_admin(url, ("DROP DATABASE IF EXISTS {} WITH (FORCE)", name))
    else:
        path = _sqlite_path(url)
        _check_name(path.stem)
        path.unlink(missing_ok=True)


def snapshot_database(url, label="snapshot"):
    """Keep a copy of the database as it is now, for ``restore_database`` (``label``
    names one of several copies)."""
    from django.db import connections

    connections.close_all()
    if is_postgres(url):
        name = _pg_name(url)
        _pg_admin(url, ("DROP DATABASE IF EXISTS {} WITH (FORCE)", f"{name}_{label}"),
                  ("CREATE DATABASE {} TEMPLATE {}", f"{name}_{label}", name))
    else:
        path = _sqlite_path(url)
        shutil.copyfile(path, f"{path}.{label}")


def restore_database(url, label="snapshot"):
    """Put the snapshot back (the next query reconnects to it)."""
    from django.db import connections

    connections.close_all()
    if is_postgres(url):
        name = _pg_name(url)
        _check_name(name)
        _pg_admin(url, ("DROP DATABASE IF EXISTS {} WITH (FORCE)", name),
                  ("CREATE DATABASE {} TEMPLATE {}", name, f"{name}_{label}"))
    else:
        path = _sqlite_path(url)
        shutil.copyfile(f"{path}.{label}", path)


def drop_snapshot(url, label="snapshot"):
    if is_postgres(url):
        _pg_admin(url, ("DROP DATABASE IF EXISTS {} WITH (FORCE)", f"{_pg_name(url)}_{label}"))
    else:
        Path(f"{_sqlite_path(url)}.{label}").unlink(missing_ok=True)


def settings_env(database_url, redis_url=None, namespace=None, **extra):
    """The environment of this process or a server/worker it starts: the benchmark
    settings (the sandbox's, see _bench_settings.py) on the benchmark database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH_DIR)]),
        "DATABASE_URL": database_url,
        "DEBUG": "0",  # no query log: it would grow with every statement
        **extra,
    }
    env.pop("REDIS_URL", None)
    env.pop("DRAMATIQ_NAMESPACE", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["DRAMATIQ_NAMESPACE"] = namespace or f"coaching-bench-{os.getpid()}"
    return env


def setup_django(database_url, *, redis_url=None, namespace=None, migrate=True, **extra):
    """Configure Django in this process for the benchmark database (recreated by the
    caller) and migrate it. Without ``redis_url`` jobs go to dramatiq's StubBroker."""
    env = settings_env(database_url, redis_url, namespace, **extra)
    for key in ("REDIS_URL", "DRAMATIQ_NAMESPACE"):
        if key not in env:
            os.environ.pop(key, None)
    os.environ.update(env)
    for path in (str(ROOT), str(BENCH_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import django

    django.setup()
    from django.db import connection

    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    vendor = connection.vendor
    if vendor == "postgresql":
        version = connection.pg_version
        vendor = f"PostgreSQL {version // 10000}.{version % 10000}"
    elif vendor == "sqlite":
        vendor = f"SQLite {connection.Database.sqlite_version}"
    if _run:
        set_database_vendor(vendor)
    return vendor


# -- Measuring -------------------------------------------------------------------------------


class StatementCounter:
    """Counts SQL statements through an execute wrapper (no query log needed)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def analyze():
    """Refresh the planner's statistics, as autovacuum does soon after a bulk load; without
    them PostgreSQL plans for empty tables (100x slower)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@contextlib.contextmanager
def autovacuum_stand_in(every=5.0):
    """While the block runs, refresh the planner's statistics every ``every`` seconds if the
    server's autovacuum is off (as on this machine's PostgreSQL), as autovacuum's own analyze
    would once a tenth of a table changed. Without it, a benchmark that fills tables from
    empty under load runs on plans made for empty tables (nested loops over whole tables)."""
    import threading

    from django.db import connection, connections

    stop = threading.Event()
    thread = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            off = cursor.fetchone()[0] == "off"
        if off:
            def run():
                try:
                    while not stop.wait(every):
                        analyze()
                finally:
                    connections.close_all()

            thread = threading.Thread(target=run, name="autovacuum-stand-in", daemon=True)
            thread.start()
    try:
        yield thread is not None
    finally:
        stop.set()
        if thread is not None:
            thread.join()


def backend_cpu():
    """CPU seconds used so far by this connection's PostgreSQL server process, read from
    /proc (0 on SQLite; None when the server runs elsewhere)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def timed(fn):
    """(result, seconds, statements, CPU seconds) of ``fn()``, the tables analyzed first
    (not timed). The CPU time is this process's and its PostgreSQL server process's: unlike
    the elapsed time it hardly changes with whatever else the machine is doing (None if
    the server's cannot be read)."""
    from django.db import connection

    analyze()
    counter = StatementCounter()
    server_before = backend_cpu()
    with connection.execute_wrapper(counter):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = fn()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    server_after = backend_cpu()
    if server_before is None or server_after is None:
        cpu = None
    else:
        cpu += server_after - server_before
    return result, elapsed, counter.count, cpu


def percentile(values, pct):
    """The ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def median(values):
    return statistics.median(values)


def growth(times_by_size):
    """[(size, bigger size, time ratio)] for each step of a size sweep."""
    sizes = sorted(times_by_size)
    pairs = zip(sizes, sizes[1:], strict=False)
    return [(a, b, times_by_size[b] / times_by_size[a]) for a, b in pairs]


# -- Processes: a gunicorn server, dramatiq workers ------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.1)


class ProcessGroup:
    """A child process in its own process group, stopped with everything it started."""

    def __init__(self, args, env, log_path):
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "wb")  # closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self):
        return self.log_path.read_text(errors="replace")

    def check_alive(self):
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.popen.args[:4]} exited:\n{self.log()[-3000:]}")

    def stop(self):
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # a worker its master left behind
        self.log_file.close()


@contextlib.contextmanager
def gunicorn(database_url, *, workers=2, redis_url=None, namespace=None, warm_paths=("/",),
             **env):
    """The sandbox served by gunicorn (sync workers) on a free port: yields its base URL.
    ``env``: more environment variables for the server."""
    port = free_port()
    log = results_dir() / f"{_run.get('script', 'bench')}-gunicorn.log"
    server = ProcessGroup(
        [sys.executable, "-m", "gunicorn", "sandbox.wsgi:application",
         "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "--log-level", "warning"],
        settings_env(database_url, redis_url, namespace, **env), log,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        server.check_alive()
        try:
            with urllib.request.urlopen(base + "/", timeout=5):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    try:
        wait_until(up, 90, "gunicorn")
        # Each worker's first requests load templates and URL patterns: not measured.
        for _ in range(4 * workers):
            for path in warm_paths:
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(base + path, timeout=30).close()
        yield base
    finally:
        server.stop()


@contextlib.contextmanager
def dramatiq_workers(database_url, redis_url, namespace, *, processes=2, threads=4, **env):
    """``manage.py rundramatiq`` on the benchmark database and Redis namespace."""
    log = results_dir() / f"{_run.get('script', 'bench')}-worker.log"
    group = ProcessGroup(
        [sys.executable, "manage.py", "rundramatiq", "--processes", str(processes),
         "--threads", str(threads), "--worker-shutdown-timeout", "5000"],
        settings_env(database_url, redis_url, namespace, **env), log,
    )
    try:
        wait_until(lambda: group.check_alive() or group.log().count("ready for action")
                   >= processes, 90, "the dramatiq workers")
        yield group
    finally:
        group.stop()


def flush_redis_namespace(redis_url, namespace):
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# -- Data ------------------------------------------------------------------------------------
# Built through the package's services, as the sandbox's demo data is.

PASSWORD = "bench-password"


def make_users(count, prefix="bench", password=None):
    """``count`` active users in one statement per 5,000 (one password hash for all)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    hashed = make_password(password) if password else "!"
    return User.objects.bulk_create(
        [User(username=f"{prefix}-{i}", email=f"{prefix}-{i}@example.com", password=hashed,
              first_name="Client", last_name=f"{prefix.title()} {i}")
         for i in range(count)],
        batch_size=5000,
    )


def make_team(name="Bench team", coaches=2):
    """A team with ``coaches`` coaches (in the coaching role's group, as the demo's are)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from wagtail_coaching.conf import coaching_settings
    from wagtail_coaching.models import Team, TeamMembership

    User = get_user_model()
    team = Team.objects.create(name=name)
    group, _ = Group.objects.get_or_create(name=coaching_settings.ROLE_GROUPS["coach"])
    for i in range(coaches):
        coach = User.objects.create(
            username=f"{name.lower().replace(' ', '-')}-coach-{i}", first_name="Coach",
            last_name=str(i), email=f"coach-{i}@example.com",
        )
        coach.groups.add(group)
        TeamMembership.objects.create(team=team, user=coach, role="coach")
    return team


def checkin_program(stages=4, per_stage=10):
    """A program whose steps are all check-ins open from the start: every one can be
    completed at once (what the load test posts)."""
    from wagtail_coaching.testing import programs

    return [
        programs.stage(f"Stage {s + 1}", [
            programs.activity("check_in", f"Check-in {s + 1}.{a + 1}", rule="immediately")
            for a in range(per_stage)
        ])
        for s in range(stages)
    ]


def complete_first(enrollment, count, actor):
    """Complete the first ``count`` open steps of ``enrollment``, in program order, as the
    client would (each completion opens the next)."""
    from wagtail_coaching.journeys import complete_activity
    from wagtail_coaching.models import ActivityState

    done = 0
    while done < count:
        step = (
            enrollment.activities.filter(state=ActivityState.AVAILABLE)
            .order_by("stage_position", "position", "id").first()
        )
        if step is None:
            break
        score = {"check_in": 6, "feedback": 4}.get(step.kind)
        complete_activity(step, actor=actor, score=score)
        done += 1
    return done

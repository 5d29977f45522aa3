"""``manage.py rundemo``: the sandbox's web server together with its background work.

Embedded default (dramatiq's StubBroker): one process runs everything. An in-process
dramatiq worker (two threads) executes jobs, and the ``dramatiq_crontab`` scheduler fires the
periodic jobs (time-based unlocks, the outbox sweeper) in a background thread, next to
Django's development server (started without the autoreloader, which would fork a second
process with a second worker and scheduler).

With ``REDIS_URL`` set, jobs go to Redis and are run by separate processes: by default this
command only serves and says what else to start (``manage.py rundramatiq`` and
``manage.py crontab``); ``--with-workers`` starts both as child processes and stops them on
exit.
"""

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dramatiq
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from dramatiq.brokers.stub import StubBroker

from sandbox.home import demo

MANAGE_PY = Path(__file__).resolve().parents[4] / "manage.py"


class Command(BaseCommand):
    help = "Serve the sandbox and run its background jobs (worker and scheduler)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--addrport", default="127.0.0.1:8000",
            help="Address and port to serve on (default: 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--no-worker", action="store_true",
            help="Only serve: run no worker and no scheduler.",
        )
        parser.add_argument(
            "--with-workers", action="store_true",
            help="With REDIS_URL: also start `rundramatiq` and `crontab` as child processes.",
        )

    def handle(self, *args, addrport, no_worker, with_workers, **options):
        # Importing the tasks registers the @cron jobs on dramatiq_crontab.scheduler.
        import wagtail_coaching.tasks  # noqa: F401

        broker = dramatiq.get_broker()
        embedded = isinstance(broker, StubBroker)
        if ":" not in addrport:
            addrport = f"127.0.0.1:{addrport}"
        self.check_port_free(addrport)
        self.print_logins(f"http://{addrport}")

        # Ctrl-C reaches every process of the terminal's group, SIGTERM only this one; both
        # end the server (which exits on KeyboardInterrupt) and then the background work.
        self.interrupted = False
        previous_handlers = {
            signum: signal.signal(signum, self.on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }

        stoppers = []
        try:
            if no_worker:
                self.stdout.write("No worker or scheduler: jobs stay queued.")
            elif embedded:
                stoppers.append(self.start_worker(broker))
                stoppers.append(self.start_scheduler())
            elif with_workers:
                stoppers.append(self.start_children())
            else:
                self.stdout.write(self.style.WARNING(
                    "Jobs go to Redis (REDIS_URL). Run the worker and the scheduler in two "
                    "more terminals:\n"
                    "  python manage.py rundramatiq --processes 1 --threads 2\n"
                    "  python manage.py crontab\n"
                    "or restart this command with --with-workers."
                ))
            call_command("runserver", addrport, use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            for stop in reversed(stoppers):
                stop()
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            self.stdout.write("Stopped.")

    def on_signal(self, signum, frame):
        self.interrupted = self.interrupted or signum == signal.SIGINT
        raise KeyboardInterrupt

    def check_port_free(self, addrport):
        """Fail before starting anything: the server would exit without cleaning up."""
        host, _, port = addrport.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        try:
            with socket.create_server((host, int(port))):
                pass
        except OSError as exc:
            raise CommandError(f"Cannot serve on {addrport}: {exc.strerror or exc}") from exc

    def print_logins(self, base_url):
        if not demo.demo_users_exist():
            self.stdout.write("No demo users yet: run `python manage.py load_demo` first.")
            return
        self.stdout.write(self.style.MIGRATE_HEADING(
            f"Demo logins (password for everyone: {demo.PASSWORD}):"
        ))
        for line in demo.logins(base_url):
            self.stdout.write(line)
        self.stdout.write("")

    def start_worker(self, broker):
        worker = dramatiq.Worker(broker, worker_threads=2)
        worker.start()
        self.stdout.write(f"Worker started (in-process, 2 threads, queues: "
                          f"{', '.join(sorted(broker.get_declared_queues()))}).")

        def stop():
            self.stdout.write("Stopping the worker…")
            worker.stop(timeout=5000)

        return stop

    def start_scheduler(self):
        from dramatiq_crontab import scheduler

        jobs = ", ".join(f"{job.name} ({job.trigger})" for job in scheduler.get_jobs())
        thread = threading.Thread(target=scheduler.start, name="demo-scheduler", daemon=True)
        thread.start()
        self.stdout.write(f"Scheduler started: {jobs or 'no periodic jobs'}.")

        def stop():
            self.stdout.write("Stopping the scheduler…")
            if scheduler.running:
                scheduler.shutdown(wait=False)
            thread.join(timeout=5)

        return stop

    def start_children(self):
        commands = [
            [sys.executable, str(MANAGE_PY), "rundramatiq", "--processes", "1",
             "--threads", "2"],
            [sys.executable, str(MANAGE_PY), "crontab"],
        ]
        children = [subprocess.Popen(command) for command in commands]
        self.stdout.write(
            f"Started rundramatiq (pid {children[0].pid}) and crontab (pid {children[1].pid})."
        )

        def stop():
            self.stdout.write("Stopping rundramatiq and crontab…")
            if self.interrupted:
                # They got the terminal's Ctrl-C too: let them shut down on their own.
                deadline = time.monotonic() + 10
                for child in children:
                    try:
                        child.wait(timeout=max(0.0, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        pass
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()

        return stop

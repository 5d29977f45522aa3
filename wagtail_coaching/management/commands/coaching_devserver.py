"""``manage.py coaching_devserver``: Django's development server together with the background
work of wagtail-coaching, for development.

On dramatiq's ``StubBroker`` (the in-memory broker) one process runs everything: an
in-process dramatiq worker (two threads) executes jobs, and the ``dramatiq_crontab``
scheduler fires the periodic jobs (time-based unlocks, the outbox sweeper) in a background
thread, next to the development server. The server runs without the autoreloader, which
would fork a second process with a second worker and scheduler. A StubBroker's messages stay
in the memory of the process that sent them, which is why there is no separate worker
command for it: the worker has to live in the web process.

With a broker other processes can reach (Redis, RabbitMQ), jobs are run by ``rundramatiq``
and ``crontab``: by default this command only serves and says what else to start;
``--with-workers`` starts both as child processes and stops them on exit.
"""

import signal
import socket

import dramatiq
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from wagtail_coaching.management import inprocess


class Command(BaseCommand):
    help = (
        "Serve the site with Django's development server and run wagtail-coaching's "
        "background jobs (an in-process worker and scheduler on the StubBroker)."
    )

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
            "--insecure", action="store_true",
            help="Serve static files with DEBUG off too (as `runserver --insecure`), to see "
            "the site's own error pages in development.",
        )
        parser.add_argument(
            "--with-workers", action="store_true",
            help="With a Redis or RabbitMQ broker: also start `rundramatiq` and `crontab` as "
            "child processes.",
        )

    def print_banner(self, base_url):
        """Printed before serving; a site's own command may say more (the sandbox lists
        its demo logins)."""

    def handle(self, *args, addrport, no_worker, with_workers, insecure=False, **options):
        broker = dramatiq.get_broker()
        if ":" not in addrport:
            addrport = f"127.0.0.1:{addrport}"
        self.check_port_free(addrport)
        self.print_banner(f"http://{addrport}")

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
            elif inprocess.is_in_memory(broker):
                stoppers.append(self.start_worker(broker))
                stoppers.append(self.start_scheduler())
            elif with_workers:
                stoppers.append(self.start_processes())
            else:
                self.stdout.write(self.style.WARNING(
                    f"Jobs go to {type(broker).__name__}. Run the worker and the scheduler "
                    "in two more terminals:\n"
                    "  python manage.py rundramatiq --processes 1 --threads 2\n"
                    "  python manage.py crontab\n"
                    "or restart this command with --with-workers."
                ))
            serve_options = {"use_reloader": False}
            if insecure and apps.is_installed("django.contrib.staticfiles"):
                serve_options["insecure_serving"] = True
            call_command("runserver", addrport, **serve_options)
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

    def start_worker(self, broker):
        return inprocess.start_worker(broker, write=self.stdout.write)

    def start_scheduler(self):
        return inprocess.start_scheduler(write=self.stdout.write)

    def start_processes(self):
        return inprocess.start_processes(
            write=self.stdout.write, interrupted=lambda: self.interrupted
        )

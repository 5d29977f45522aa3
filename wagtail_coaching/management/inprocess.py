"""Background work inside the current process: a dramatiq worker and the periodic-job
scheduler, for development on dramatiq's in-memory ``StubBroker``.

A StubBroker's queues live in the memory of the process that sends the messages, so only a
worker in that same process can run them: ``manage.py coaching_devserver`` starts one next to
Django's development server. With Redis (or RabbitMQ) the worker and the scheduler are
processes of their own (``rundramatiq`` and ``crontab``), started here only as children of
the development server when asked.

Each ``start_*`` function returns a function that stops what it started.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

import dramatiq
from dramatiq.brokers.stub import StubBroker

WORKER_THREADS = 2

# The in-process workers running now (the system check asks whether a StubBroker has one).
_workers = set()


def is_in_memory(broker):
    return isinstance(broker, StubBroker)


def worker_running():
    """Whether a worker started here runs in this process."""
    return bool(_workers)


def start_worker(broker, threads=WORKER_THREADS, write=print):
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    _workers.add(worker)
    write(f"Worker started (in-process, {threads} threads, queues: "
          f"{', '.join(sorted(broker.get_declared_queues()))}).")

    def stop():
        write("Stopping the worker…")
        try:
            worker.stop(timeout=5000)
        finally:
            _workers.discard(worker)

    return stop


def start_scheduler(write=print):
    """``dramatiq_crontab``'s scheduler in a thread: at each tick it sends the periodic job's
    message, which the worker then runs. Importing ``wagtail_coaching.tasks`` registers our
    periodic jobs on it."""
    from dramatiq_crontab import scheduler

    from .. import tasks  # noqa: F401

    jobs = ", ".join(f"{job.name} ({job.trigger})" for job in scheduler.get_jobs())
    thread = threading.Thread(target=scheduler.start, name="coaching-scheduler", daemon=True)
    thread.start()
    write(f"Scheduler started: {jobs or 'no periodic jobs'}.")

    def stop():
        write("Stopping the scheduler…")
        if scheduler.running:
            scheduler.shutdown(wait=False)
        thread.join(timeout=5)

    return stop


def manage_command():
    """How to start another management command the way this one was started: through the
    same ``manage.py``, or ``python -m django`` (the settings module is in the environment,
    which the child inherits)."""
    script = Path(sys.argv[0])
    if script.name == "manage.py" and script.is_file():
        return [sys.executable, str(script.resolve())]
    return [sys.executable, "-m", "django"]


def start_processes(threads=WORKER_THREADS, write=print, interrupted=lambda: False):
    """``rundramatiq`` and ``crontab`` as child processes (with a broker they share).

    ``interrupted()`` tells the stopper whether the terminal's Ctrl-C reached the children
    too, in which case they are given time to shut down on their own first.
    """
    base = manage_command()
    commands = [
        [*base, "rundramatiq", "--processes", "1", "--threads", str(threads)],
        [*base, "crontab"],
    ]
    children = [subprocess.Popen(command) for command in commands]
    write(f"Started rundramatiq (pid {children[0].pid}) and crontab (pid {children[1].pid}).")

    def stop():
        write("Stopping rundramatiq and crontab…")
        if interrupted():
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

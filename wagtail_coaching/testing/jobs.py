"""Run background jobs inside a test, through the real broker.

``drain()`` consumes the coaching queue of whatever broker the project configured (the
StubBroker or Redis) and runs each message's actor in this thread, so it sees the test's
transaction; what an actor enqueues on commit is run too, as a worker would. ``run_jobs()``
also fires the on-commit hooks of the block itself, which enqueue the first jobs.
"""

from contextlib import contextmanager

import dramatiq
from django.test import TestCase

from ..tasks import QUEUE


def drain(broker=None, queue_name=QUEUE, max_rounds=50):
    """Run queued messages until the queue stays empty. Returns the messages run."""
    broker = broker or dramatiq.get_broker()
    ran = []
    for _ in range(max_rounds):
        consumer = broker.consume(queue_name, prefetch=100, timeout=50)
        batch = 0
        try:
            for message in consumer:
                if message is None:
                    break
                actor = broker.get_actor(message.actor_name)
                try:
                    # Inside a test's transaction nothing commits, so the jobs this job
                    # enqueues on commit are fired here (when it succeeds) and drained next.
                    with TestCase.captureOnCommitCallbacks() as callbacks:
                        actor.fn(*message.args, **message.kwargs)
                    for callback in callbacks:
                        callback()
                finally:
                    consumer.ack(message)
                ran.append(message)
                batch += 1
        finally:
            consumer.close()
        if batch == 0:
            return ran
    raise RuntimeError("Jobs kept enqueuing jobs; gave up draining.")


@contextmanager
def run_jobs():
    """Fire the on-commit callbacks of the block (they enqueue jobs), then drain the queue."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield
    drain()

"""Run background jobs inside a test, through the real broker.

``drain()`` consumes the coaching queues (the fast ``coaching`` queue and the
``coaching_bulk`` queue) of whatever broker the project configured (the StubBroker or
Redis) and runs each message's actor in this thread, so it sees the test's transaction;
what an actor enqueues on commit is run too, as a worker would, whichever queue it goes to.
``run_jobs()`` also fires the on-commit hooks of the block itself, which enqueue the first
jobs.
"""

from contextlib import contextmanager

import dramatiq
from django.test import TestCase

from ..tasks import QUEUES


def _run_queue(broker, queue_name, ran):
    """Run what is on one queue now. Returns how many messages ran."""
    consumer = broker.consume(queue_name, prefetch=100, timeout=50)
    count = 0
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
            count += 1
    finally:
        consumer.close()
    return count


def drain(broker=None, queue_name=None, max_rounds=50):
    """Run queued messages until the queues stay empty. Returns the messages run.

    ``queue_name`` limits it to one queue; by default every coaching queue is drained,
    round after round, since a job on one queue may enqueue jobs on the other.
    """
    broker = broker or dramatiq.get_broker()
    queues = (queue_name,) if queue_name else QUEUES
    ran = []
    for _ in range(max_rounds):
        if sum(_run_queue(broker, name, ran) for name in queues) == 0:
            return ran
    raise RuntimeError("Jobs kept enqueuing jobs; gave up draining.")


@contextmanager
def run_jobs():
    """Fire the on-commit callbacks of the block (they enqueue jobs), then drain the queues."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield
    drain()

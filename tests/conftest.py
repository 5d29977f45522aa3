import copy
import ipaddress
import socket

import dramatiq
import pytest
from django.db import transaction

from wagtail_coaching.testing.factories import UserFactory

_real_connect = socket.socket.connect


def _loopback_only(sock, address):
    """Tests never touch the network: only loopback (databases, Redis, local fakes)."""
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None if host == "localhost" else host
        if ip is not None and (isinstance(ip, str) or not ip.is_loopback):
            raise ConnectionRefusedError(f"Tests may not connect to {host!r}")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True, scope="session")
def no_network():
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def broker():
    """A clean queue for every test, on whichever broker is configured."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def stripe_fake(settings):
    """The local fake of the Stripe API, with the real ``stripe`` library pointed at it."""
    from .stripe_fake import running_fake

    yield from running_fake(settings)


@pytest.fixture
def engagement(db):
    """A published engagement, for the tests that sell one (modules may override it)."""
    from wagtail_coaching.testing.factories import make_engagement

    return make_engagement(title="Leadership Foundations", slug="leadership")


@pytest.fixture
def buyer(db):
    return UserFactory(username="cara", email="cara@example.com")


@pytest.fixture
def client_user(db):
    return UserFactory(username="cara", first_name="Cara", last_name="Client")


@pytest.fixture
def other_client(db):
    return UserFactory(username="olly", first_name="Olly", last_name="Other")


def _is_transactional(item):
    marker = item.get_closest_marker("django_db")
    if marker is not None:
        if marker.kwargs.get("transaction") or (marker.args and marker.args[0]):
            return True
    return "transactional_db" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """Run the tests that commit for real (threads, workers) after all the others.

    Such a test empties the database when it ends, so nothing that relies on the data
    migrations made (the Wagtail root page, default groups) may run after it; the
    transactional tests themselves create what they need.
    """
    items.sort(key=_is_transactional)


@pytest.fixture
def enqueue_at_once(monkeypatch):
    """Jobs are sent when enqueued rather than on commit (a test's transaction never
    commits), so ``drain()`` runs what a service call enqueued."""
    from wagtail_coaching import tasks

    monkeypatch.setattr(tasks, "enqueue", lambda actor, *a, **kw: actor.send(*a, **kw))


@pytest.fixture
def quiet_world(db, enqueue_at_once):
    """``build_world()`` with its own emails (welcome, coach assigned) already sent and
    forgotten, so a test sees only the mail it causes."""
    from django.core import mail

    from wagtail_coaching.testing.jobs import drain

    from .world import build_world

    world = build_world()
    drain()
    mail.outbox.clear()
    return world


@pytest.fixture(scope="module")
def shared_world(request, django_db_setup, django_db_blocker):
    """The world of a test module, built once for all its tests (as ``setUpTestData``).

    The module defines ``build_shared_world()``; its rows are written inside a transaction
    that stays open while the module's tests run and is rolled back after the last one. Each
    test runs in its own savepoint inside it (pytest-django's ``db``), so what a test changes
    is undone before the next. Tests take a deep copy of the Python objects
    (``shared``), so an attribute a test sets never reaches another test.
    """
    build = request.module.build_shared_world
    with django_db_blocker.unblock(), transaction.atomic():
        world = build()
        yield world
        transaction.set_rollback(True)


@pytest.fixture
def shared(db, shared_world):
    """This test's own copy of the module's shared world: the rows are shared (and each
    test's changes to them rolled back), the Python objects are not."""
    return copy.deepcopy(shared_world)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory):
    """A real CalDAV server (Radicale) on a free loopback port, for the whole test process."""
    from .caldav_server import start_radicale

    server = start_radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except Exception:  # noqa: BLE001 - it must not outlive the tests
        server.process.kill()

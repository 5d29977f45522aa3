import dramatiq
import pytest

from wagtail_coaching.testing.factories import UserFactory


@pytest.fixture(autouse=True)
def broker():
    """A clean queue for every test, on whichever broker is configured."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def client_user(db):
    return UserFactory(username="cara", first_name="Cara", last_name="Client")


@pytest.fixture
def other_client(db):
    return UserFactory(username="olly", first_name="Olly", last_name="Other")

"""Enquiries routed at the same moment take turns among the sales managers: the rotation's
row is locked while one is chosen (PostgreSQL; SQLite runs one writer at a time). A module
of its own: a module's shared world keeps a transaction open that these threads would wait
on."""

import os
import threading

import pytest
from django.db import close_old_connections, connection, transaction

from wagtail_coaching.models import Enquiry
from wagtail_coaching.payments.enquiries import submit_enquiry

from .world import staff

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent transactions need PostgreSQL",
)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_enquiries_are_shared_out_evenly():
    from .stripe_fake import make_offer

    managers = [staff(f"seller{n}", "sales_manager") for n in range(3)]
    offer = make_offer([], title="Concurrent", slug="concurrent")
    barrier = threading.Barrier(6)
    errors = []

    def worker(n):
        close_old_connections()
        try:
            barrier.wait()
            with transaction.atomic():
                submit_enquiry(offer, name="A", email=f"c{n}@example.com", message="?")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    counts = [Enquiry.objects.filter(sales_manager=m).count() for m in managers]
    assert counts == [2, 2, 2]

"""Rows of the URL × role table for enquiries (Sales menu): the list, an enquiry's page and
its actions; a sales manager reaches only the enquiries routed to them (see
tests/test_admin_matrix.py). The public "Ask about this" form and the personal checkout
links answer to anyone (tests/test_enquiries.py)."""

import uuid

from wagtail_coaching.models import Enquiry, OfferPage

from .routes import Route
from .world import staff


def enquiries(setup):
    """An enquiry routed to the world's sales manager and one routed to another one (whom
    the world's sales manager must not reach)."""
    w = setup.world
    other = getattr(w, "sales_other", None) or staff("sales_other", "sales_manager")
    w.sales_other = other
    offer = OfferPage.objects.get(slug="offer-a")
    setup.enquiries = [
        Enquiry.objects.create(
            offer=offer, name=f"Asker {n}", email=f"asker{n}@example.com",
            message="Which plan fits a team of five?", sales_manager=manager,
        )
        for n, manager in enumerate((w.sales, other))
    ]


def enquiry_route(action, method="post", data=None):
    return Route(
        method=method, targets="enquiries", lookup="view_enquiry", action=action,
        prepare=enquiries, data=data or (lambda setup, obj: {}),
    )


def price_of(setup, enquiry):
    return enquiry.offer.prices.filter(active=True).first().pk


ENQUIRY_ROUTES = {
    "wagtail_coaching_enquiry_modeladmin_index": Route(action="view_enquiry"),
    "wagtail_coaching_enquiry_modeladmin_inspect": enquiry_route("view_enquiry", method="get"),
    "wagtail_coaching_enquiry_modeladmin_reply": enquiry_route(
        "change_enquiry",
        data=lambda s, e: {"reply-body": "Happy to help.", "reply-key": str(uuid.uuid4())},
    ),
    "wagtail_coaching_enquiry_modeladmin_status": enquiry_route(
        "change_enquiry", data=lambda s, e: {"status-status": "lost"}
    ),
    "wagtail_coaching_enquiry_modeladmin_grant": enquiry_route(
        "change_enquiry", data=lambda s, e: {
            "grant-amount": "900.00", "grant-currency": "eur", "grant-reference": "PO-1",
            "grant-note": "", "grant-key": str(uuid.uuid4()),
        },
    ),
    "wagtail_coaching_enquiry_modeladmin_link": enquiry_route(
        "change_enquiry", data=lambda s, e: {
            "link-price": price_of(s, e), "link-body": "", "link-key": str(uuid.uuid4()),
        },
    ),
}

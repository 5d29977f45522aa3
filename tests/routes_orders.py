"""URL × role rows of the buyer's orders and receipts (tests/test_orders.py tests the rest)."""

from .routes import Route, by_public_id

ORDER_ROUTES = {
    # Anyone signed in has a list of their own orders (perhaps empty).
    "wagtail_coaching:orders": Route(admin=False),
    # One order's page and receipt: its buyer, and admins and sales managers.
    "wagtail_coaching:order_receipt": Route(
        admin=False, targets="orders", lookup="view_receipt", action="view_receipt",
        args=by_public_id,
    ),
}

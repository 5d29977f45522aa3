"""Checkout, order confirmation, the buyer's orders and receipts, enquiries and the Stripe
webhook.

Included into ``wagtail_coaching.urls`` (namespace ``wagtail_coaching``). With the package
mounted at ``/coaching/`` the webhook endpoint to give Stripe is
``https://<your site>/coaching/stripe/webhook/``.
"""

from django.urls import path

from .utils.input import guard_urlpatterns
from .views import checkout, enquiries, orders

urlpatterns = guard_urlpatterns([
    path("checkout/<int:price_id>/", checkout.CheckoutView.as_view(), name="checkout"),
    path("orders/", orders.OrdersView.as_view(), name="orders"),
    path("orders/<uuid:public_id>/", checkout.CheckoutDoneView.as_view(), name="checkout_done"),
    path(
        "orders/<uuid:public_id>/receipt/", orders.OrderReceiptView.as_view(),
        name="order_receipt",
    ),
    # "Ask about this" on an offer page, and a sales manager's personal checkout link.
    path("offers/<int:offer_id>/ask/", enquiries.EnquiryView.as_view(), name="enquire"),
    path(
        "checkout/personal/<str:token>/", enquiries.EnquiryCheckoutView.as_view(),
        name="enquiry_checkout",
    ),
    path("stripe/webhook/", checkout.StripeWebhookView.as_view(), name="stripe_webhook"),
])

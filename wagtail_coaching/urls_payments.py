"""Checkout, order confirmation and the Stripe webhook.

Included into ``wagtail_coaching.urls`` (namespace ``wagtail_coaching``). With the package
mounted at ``/coaching/`` the webhook endpoint to give Stripe is
``https://<your site>/coaching/stripe/webhook/``.
"""

from django.urls import path

from .utils.input import guard_urlpatterns
from .views import checkout

urlpatterns = guard_urlpatterns([
    path("checkout/<int:price_id>/", checkout.CheckoutView.as_view(), name="checkout"),
    path("orders/<uuid:public_id>/", checkout.CheckoutDoneView.as_view(), name="checkout_done"),
    path("stripe/webhook/", checkout.StripeWebhookView.as_view(), name="stripe_webhook"),
])

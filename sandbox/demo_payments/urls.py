from django.urls import path, re_path

from . import views

app_name = "demo_payments"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("advance/<str:subscription_id>/", views.advance, name="advance"),
    path("pay/<str:session_id>/", views.checkout, name="checkout"),
    re_path(r"^(?P<kind>invoices|receipts)/(?P<object_id>\w+)/$", views.document,
            name="document"),
    # The Stripe API the ``stripe`` library calls (STRIPE_API_BASE is this folder).
    re_path(r"^v1/(?P<path>.*)$", views.api, name="api"),
]

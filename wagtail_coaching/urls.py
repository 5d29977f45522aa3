from django.urls import include, path

from .views import client

app_name = "wagtail_coaching"

urlpatterns = [
    path("", client.DashboardView.as_view(), name="dashboard"),
    path("activity/<uuid:public_id>/", client.ActivityView.as_view(), name="activity"),
    path("", include("wagtail_coaching.urls_payments")),
]

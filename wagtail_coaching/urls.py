from django.urls import include, path

from .views import client, team

app_name = "wagtail_coaching"

urlpatterns = [
    path("", client.DashboardView.as_view(), name="dashboard"),
    path("activity/<uuid:public_id>/", client.ActivityView.as_view(), name="activity"),
    path(
        "enrollment/<uuid:public_id>/coach/", team.ChooseCoachView.as_view(),
        name="choose_coach",
    ),
    path("privacy/", team.PrivacyView.as_view(), name="privacy"),
    path("", include("wagtail_coaching.urls_payments")),
]

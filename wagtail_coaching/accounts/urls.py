"""The accounts URLs: ``path("accounts/", include("wagtail_coaching.accounts.urls"))``.

The names are Django's (``login``, ``logout``, ``password_change``, ``password_reset``...),
not namespaced, so Django's auth views and the package's templates find them, plus
``signup`` and ``account_profile``.
"""

from django.urls import path

from ..utils.input import guard_urlpatterns
from . import views

# Every view refuses NUL bytes and over-long parameters (utils.input) before it runs.
urlpatterns = guard_urlpatterns([
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("profile/", views.ProfileView.as_view(), name="account_profile"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/", views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/", views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
])

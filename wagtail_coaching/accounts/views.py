"""The accounts pages. Sign in and out, password reset and change are Django's views with
the package's templates; sign up and the profile are the package's own.

Every page is drawn on ``wagtail_coaching/base.html``; a site restyles them by overriding the
templates under ``wagtail_coaching/accounts/``.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, resolve_url
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView
from wagtail.models import Site

from ..journeys import employer_sponsors
from ..utils.urls import signup_url, site_base_url, with_next
from . import throttle
from .forms import ProfileForm, SignInForm, SignupForm

TEMPLATES = "wagtail_coaching/accounts/"
# Signed-in people's first page when nothing else is asked for.
DASHBOARD = "wagtail_coaching:dashboard"


def safe_next(request):
    """The ``next`` of the form or the address, if it stays on this site; else ""."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def home_of_clients():
    """Where a new client goes: the coaching dashboard, else ``LOGIN_REDIRECT_URL``."""
    try:
        return reverse(DASHBOARD)
    except NoReverseMatch:
        return resolve_url(settings.LOGIN_REDIRECT_URL)


def too_many_attempts(request, template, context=None):
    return TemplateResponse(request, TEMPLATES + template, {
        **(context or {}),
        "rate_limited": True,
    }, status=429)


class SignInView(auth_views.LoginView):
    template_name = TEMPLATES + "login.html"
    authentication_form = SignInForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The same sign-up link as the checkout pages', back to where sign-in would have led.
        context["signup_url"] = with_next(signup_url(), context.get("next", ""))
        return context

    def post(self, request, *args, **kwargs):
        if throttle.is_limited("login", request):
            # An unbound form: the attempt is not even checked.
            form = self.get_form_class()(request)
            return too_many_attempts(request, "login.html", self.get_context_data(form=form))
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        throttle.count_attempt("login", self.request)
        return super().form_invalid(form)


class SignOutView(auth_views.LogoutView):
    """POST only (Django's); without ``next`` or ``LOGOUT_REDIRECT_URL``, a signed-out page."""

    template_name = TEMPLATES + "logged_out.html"


class SignupView(FormView):
    """A visitor creates a client account and comes back where they were, signed in."""

    template_name = TEMPLATES + "signup.html"
    form_class = SignupForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect(safe_next(request) or home_of_clients())
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=safe_next(self.request), **kwargs)

    def post(self, request, *args, **kwargs):
        if throttle.is_limited("signup", request):
            return too_many_attempts(request, "signup.html", self.get_context_data())
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        throttle.count_attempt("signup", self.request)
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(safe_next(self.request) or home_of_clients())


def _site_name(request):
    site = Site.find_for_request(request)
    return (
        (site.site_name if site else "")
        or getattr(settings, "WAGTAIL_SITE_NAME", "")
        or request.get_host()
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Sends the reset link; the link is on the site's own address (``utils.urls``), not on
    whatever host the request named."""

    template_name = TEMPLATES + "password_reset_form.html"
    email_template_name = TEMPLATES + "password_reset_email.txt"
    subject_template_name = TEMPLATES + "password_reset_subject.txt"

    def post(self, request, *args, **kwargs):
        if throttle.is_limited("password_reset", request):
            return too_many_attempts(request, "password_reset_form.html", self.get_context_data())
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        throttle.count_attempt("password_reset", self.request)
        self.extra_email_context = {
            "base_url": site_base_url(),
            "site_name": _site_name(self.request),
        }
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = TEMPLATES + "password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = TEMPLATES + "password_reset_confirm.html"


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = TEMPLATES + "password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = TEMPLATES + "password_change_form.html"


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = TEMPLATES + "password_change_done.html"


class ProfileView(LoginRequiredMixin, View):
    """The signed-in person's name and time zone, with a link to which messages they get."""

    template_name = TEMPLATES + "profile.html"
    http_method_names = ["get", "post", "head"]

    def render(self, form, status=200):
        return TemplateResponse(self.request, self.template_name, {
            "form": form,
            # A client whose coaching a company sponsors decides what its HR partner sees.
            "employer_sponsors": employer_sponsors(self.request.user),
        }, status=status)

    def get(self, request):
        return self.render(ProfileForm(user=request.user))

    def post(self, request):
        form = ProfileForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render(form)
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect(reverse("account_profile"))

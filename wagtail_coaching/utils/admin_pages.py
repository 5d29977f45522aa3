"""What the coaching admin's pages and its reports share: the 403 page that names nobody,
rendering in the viewer's time zone, and the address of a client's card. (The admin's URLs
import the reports, so the reports cannot import the admin: these live here.)"""

from django.core.exceptions import PermissionDenied
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import reverse
from django.utils import timezone

from .time_zones import user_time_zone


def wants_fragment(request):
    """Whether to answer with a fragment (the client card's dialog) rather than a page."""
    return (
        request.GET.get("panel") == "1"
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or request.headers.get("HX-Request") == "true"
    )


def forbidden(request):
    """The 403 page. It names nobody: the object stays anonymous to whoever was refused."""
    template = (
        "wagtail_coaching/admin/forbidden_fragment.html"
        if wants_fragment(request)
        else "wagtail_coaching/admin/forbidden.html"
    )
    return TemplateResponse(request, template, {}, status=403)


def refusing(view, request, *args, **kwargs):
    """Run ``view``; a PermissionDenied it raises becomes the 403 page."""
    try:
        return view(request, *args, **kwargs)
    except PermissionDenied:
        return forbidden(request)


def in_viewer_zone(request, view, *args, **kwargs):
    """Run ``view`` (a refusal becomes the 403 page) and render its page in the viewer's
    time zone: template responses render after the view returns, so render here."""
    with timezone.override(user_time_zone(request.user)):
        response = refusing(view, request, *args, **kwargs)
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            response.render()
    return response


def card_url(enrollment, fragment=False):
    """The client card of ``enrollment`` (``fragment``: its slide-out panel)."""
    url = reverse("wagtail_coaching_admin:client_card", args=[enrollment.public_id])
    return f"{url}?panel=1" if fragment else url

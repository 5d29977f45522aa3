"""Input that no view of the package should see, refused before the view runs.

A NUL byte in a path, a query parameter or a form field cannot be stored (PostgreSQL refuses
it) and is never meant; an over-long query parameter is never a real filter, search or page
number. Both are answered with a 400 that says so, and nothing is read or changed.

``refuse_bad_input`` wraps one view; ``guard_urlpatterns`` wraps every view of a URLconf (the
package's client URLs, its admin URLs and its modeladmin lists), so a new view is covered the
day it is added. Wagtail pages of the package ask ``input_problem`` from a
``before_serve_page`` hook.
"""

import functools

from django.http import HttpResponseBadRequest
from django.urls import URLResolver
from django.utils.translation import gettext as _

# Longer query values are refused: no filter, search or page number of ours needs more.
MAX_QUERY_VALUE_LENGTH = 1000
MAX_QUERY_KEY_LENGTH = 100
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_nul(items):
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in items)


def input_problem(request, *, form=True):
    """What is wrong with the request's input (a sentence for the person), or None.

    ``form=False`` leaves a POST body unread, for a view that reads the raw body itself.
    """
    if "\x00" in request.path:
        return _("The address contains a character that is not accepted.")
    query = list(request.GET.lists())
    if _has_nul(query):
        return _("A parameter of this address contains a character that is not accepted.")
    if any(
        len(key) > MAX_QUERY_KEY_LENGTH or any(len(v) > MAX_QUERY_VALUE_LENGTH for v in values)
        for key, values in query
    ):
        return _("A parameter of this address is too long.")
    if form and request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
        if _has_nul(request.POST.lists()):
            return _("The form contains a character that is not accepted.")
    return None


def bad_input_response(problem):
    return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")


def refuse_bad_input(view):
    """``view``, answering 400 to a request with ``input_problem``.

    A view exempt from CSRF (the Stripe webhook) is authenticated by a signature over its
    raw body and reads that body itself, so its POST body is left to it.
    """
    if getattr(view, "refuses_bad_input", False):
        return view
    form = not getattr(view, "csrf_exempt", False)

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        problem = input_problem(request, form=form)
        if problem:
            return bad_input_response(problem)
        return view(request, *args, **kwargs)

    guarded.refuses_bad_input = True
    return guarded


def guard_urlpatterns(patterns):
    """Wrap the view of every pattern in ``patterns`` (included URLconfs too) with
    ``refuse_bad_input``; returns ``patterns``."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            guard_urlpatterns(pattern.url_patterns)
        else:
            pattern.callback = refuse_bad_input(pattern.callback)
    return patterns

"""Messages in the coaching admin: the inbox of the conversations one may read (with unread
counts), one conversation with a box to reply, and the "Messages" menu item with the
unread count of one's own conversations.

The conversation is reached by its enrollment, looked up inside ``visible(user,
"view_messages")`` (404 otherwise); replying needs ``write_messages`` (403 otherwise).
Reading a conversation here marks it read for the reader. The client card shows the same
thread and posts its reply box here (``next`` brings the coach back to the card).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem

from ..conversations import MessageRefused, inbox, post_message, unread_total
from ..conversations.attachments import allowed_types
from ..journeys.queries import coach_profiles
from ..permissions import current_coaches
from ..views.conversations import MessageForm, form_problems, thread_for
from .card import CoachingAdminView
from .display import card_url, in_viewer_zone, person
from .permission import forbidden, may, visible_or_404, wants_fragment

# Conversations per page of the inbox.
INBOX_PAGE = 50


class InboxView(CoachingAdminView):
    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get(self, request):
        if not may(request.user, "view_messages"):
            return forbidden(request)
        page = Paginator(inbox(request.user), INBOX_PAGE).get_page(request.GET.get("page"))
        for conversation in page.object_list:
            conversation.client_name = person(conversation.enrollment.client)
            conversation.url = reverse(
                "wagtail_coaching_admin:conversation", args=[conversation.enrollment.public_id]
            )
        return TemplateResponse(request, "wagtail_coaching/admin/messages/inbox.html", {
            "page_obj": page,
            "conversations": page.object_list,
            "header_title": _("Messages"),
            "page_title": _("Messages"),
            "header_icon": "mail",
        })


def _next(request, default):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class ConversationView(CoachingAdminView):
    http_method_names = ["get", "post", "head"]

    def dispatch(self, request, *args, **kwargs):
        return in_viewer_zone(request, super().dispatch, *args, **kwargs)

    def get_enrollment(self, public_id):
        return visible_or_404(
            self.request.user, "view_messages", related=("client", "engagement"),
            public_id=public_id,
        )

    def render(self, request, enrollment, form, problems=(), status=200):
        name = person(enrollment.client)
        coach_ids = list(current_coaches(enrollment.pk).values_list("coach_id", flat=True))
        return TemplateResponse(request, "wagtail_coaching/admin/messages/conversation.html", {
            "enrollment": enrollment,
            "client_name": name,
            "thread": thread_for(request.user, enrollment),
            "coaches": coach_profiles(coach_ids),
            "can_write": may(request.user, "write_messages", enrollment),
            "form": form,
            "problems": problems,
            "allowed_types": sorted(allowed_types()),
            "card_url": card_url(enrollment),
            "header_title": _("Messages with %(name)s") % {"name": name},
            "page_title": _("Messages with %(name)s") % {"name": name},
            "header_icon": "mail",
            "breadcrumbs_items": [
                {"url": reverse("wagtailadmin_home"), "label": _("Home")},
                {"url": reverse("wagtail_coaching_admin:messages"), "label": _("Messages")},
                {"label": name},
            ],
        }, status=status)

    def get(self, request, public_id):
        return self.render(request, self.get_enrollment(public_id), MessageForm())

    def post(self, request, public_id):
        enrollment = self.get_enrollment(public_id)
        if not may(request.user, "write_messages", enrollment):
            return forbidden(request)
        form = MessageForm(request.POST, request.FILES)
        problems = form_problems(form) if not form.is_valid() else []
        if not problems:
            try:
                message = post_message(
                    enrollment, request.user, form.cleaned_data["body"], form.uploaded_files()
                )
            except MessageRefused as exc:
                problems = [str(exc)]
        if problems:
            if wants_fragment(request) and _next(request, ""):
                # From the client card's dialog: back to the card, which shows why.
                messages.error(request, " ".join(problems))
                return redirect(_next(request, ""))
            return self.render(request, enrollment, form, problems, status=400)
        messages.success(request, _("Your message was sent."))
        here = reverse("wagtail_coaching_admin:conversation", args=[enrollment.public_id])
        return redirect(_next(request, f"{here}#message-{message.pk}"))


class MessagesMenuItem(MenuItem):
    """"Messages", with the unread messages of the conversations one writes in."""

    def is_shown(self, request):
        return may(request.user, "view_messages")

    def render_component(self, request):
        component = super().render_component(request)
        count = unread_total(request.user)
        if count:
            component.label = _("Messages (%(count)s new)") % {"count": count}
        return component


def messages_menu_item():
    return MessagesMenuItem(
        gettext_lazy("Messages"), reverse_lazy("wagtail_coaching_admin:messages"),
        name="coaching-messages", icon_name="mail", order=260,
    )


urlpatterns = [
    path("messages/", InboxView.as_view(), name="messages"),
    path("messages/<uuid:public_id>/", ConversationView.as_view(), name="conversation"),
]

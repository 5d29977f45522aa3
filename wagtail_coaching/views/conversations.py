"""A client's conversation with their coaches on the site, and the files shared in it.

- ``messages/<enrollment>/``: the thread of one of the reader's enrollments (opening it marks
  it read) with a box to write; a POST writes a message with an optional file. The
  enrollment is looked up among those the reader may read (``view_messages``: another
  client's does not exist here, 404); writing needs ``write_messages`` (403 otherwise).
- ``messages/files/<id>/``: one shared file, for those who may read its conversation only
  (404 for anyone else), always as a download with the type the allow-list gives it.

The rules (what may be written, who is told) are the ``conversations`` service's.
"""

import os

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from ..conversations import MessageRefused, mark_read, post_message, threads
from ..conversations.attachments import allowed_types
from ..journeys.queries import coach_profiles
from ..models import MESSAGE_MAX_LENGTH, MessageAttachment
from ..permissions import allowed, current_coaches, visible
from .client import ClientViewMixin


class MessageForm(forms.Form):
    """What one writes: some text, a file, or both (the service says which are acceptable)."""

    body = forms.CharField(
        label=gettext_lazy("Your message"), required=False, max_length=MESSAGE_MAX_LENGTH,
        strip=True, widget=forms.Textarea(attrs={"rows": 4}),
    )
    attachment = forms.FileField(
        label=gettext_lazy("Share a file"), required=False, allow_empty_file=True,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachment"].widget.attrs["accept"] = ",".join(sorted(allowed_types()))

    def uploaded_files(self):
        uploaded = self.cleaned_data.get("attachment")
        return [uploaded] if uploaded else []


def form_problems(form):
    """The form's errors as sentences (shown in one summary above the form)."""
    return [str(error) for errors in form.errors.values() for error in errors]


def thread_for(user, enrollment):
    """The enrollment's thread for ``user``, marked read now that they see it."""
    thread = threads(user, [enrollment])[enrollment.pk]
    if thread.conversation is not None:
        mark_read(user, {thread.conversation.pk: thread.latest_id})
    return thread


class ConversationView(ClientViewMixin, View):
    template_name = "wagtail_coaching/conversations/conversation.html"
    http_method_names = ["get", "post", "head"]

    def get_enrollment(self, request, public_id):
        enrollment = (
            visible(request.user, "view_messages")
            .select_related("engagement", "client")
            .filter(public_id=public_id)
            .first()
        )
        if enrollment is None or not allowed(request.user, "view_messages", enrollment):
            raise Http404(_("No such conversation."))
        return enrollment

    def render(self, request, enrollment, form, problems=(), status=200):
        coach_ids = list(current_coaches(enrollment.pk).values_list("coach_id", flat=True))
        return TemplateResponse(request, self.template_name, {
            "enrollment": enrollment,
            "engagement": enrollment.engagement,
            "thread": thread_for(request.user, enrollment),
            "coaches": coach_profiles(coach_ids),
            "can_write": allowed(request.user, "write_messages", enrollment),
            "form": form,
            "problems": problems,
            "allowed_types": sorted(allowed_types()),
        }, status=status)

    def get(self, request, public_id):
        return self.render(request, self.get_enrollment(request, public_id), MessageForm())

    def post(self, request, public_id):
        enrollment = self.get_enrollment(request, public_id)
        if not allowed(request.user, "write_messages", enrollment):
            raise PermissionDenied
        form = MessageForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(request, enrollment, form, form_problems(form), status=400)
        try:
            message = post_message(
                enrollment, request.user, form.cleaned_data["body"], form.uploaded_files()
            )
        except MessageRefused as exc:
            return self.render(request, enrollment, form, [str(exc)], status=400)
        messages.success(request, _("Your message was sent."))
        url = reverse("wagtail_coaching:conversation", args=[enrollment.public_id])
        return redirect(f"{url}#message-{message.pk}")


def attachment_response(user, public_id):
    """The shared file ``public_id`` as a download, if ``user`` may read its conversation
    (404 otherwise, and for a file that is gone)."""
    attachment = (
        MessageAttachment.objects.filter(
            public_id=public_id,
            message__conversation__enrollment_id__in=visible(user, "view_messages").values("pk"),
        )
        .select_related("message__conversation__enrollment__engagement")
        .first()
    )
    if attachment is None or not allowed(
        user, "view_messages", attachment.message.conversation.enrollment
    ):
        raise Http404(_("No such file."))
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise Http404(_("This file is no longer available.")) from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.name,
        content_type=allowed_types().get(
            os.path.splitext(attachment.name)[1].lower(), "application/octet-stream"
        ),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


class AttachmentView(ClientViewMixin, View):
    http_method_names = ["get", "head"]

    def get(self, request, public_id):
        return attachment_response(request.user, public_id)

"""A notification as an email: rendered from the ``wagtail_coaching/emails/<kind>.*``
templates (a site may override them) in the recipient's language, then delivered."""

from urllib.parse import urlsplit

from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from ..conf import coaching_settings
from ..utils.urls import site_base_url


def email_context(notification):
    """What a notification's templates read: the notification, its recipient, the site's
    address and the payload written when it was queued."""
    return {
        "notification": notification,
        "recipient": notification.recipient,
        "base_url": site_base_url(),
        **(notification.payload or {}),
    }


def render_subject(notification):
    """The one-line subject of a notification (``<kind>_subject.txt``)."""
    text = render_to_string(
        f"wagtail_coaching/emails/{notification.kind}_subject.txt", email_context(notification)
    )
    return " ".join(text.split())


def render_email(notification):
    """(subject, text, html or None) from ``wagtail_coaching/emails/<kind>.*`` templates."""
    context = email_context(notification)
    base = f"wagtail_coaching/emails/{notification.kind}"
    subject = render_subject(notification)
    text = render_to_string(f"{base}.txt", context)
    try:
        html = render_to_string(f"{base}.html", context)
    except TemplateDoesNotExist:
        html = None
    return subject, text, html


def send_email(notification):
    recipient = notification.recipient
    address = recipient.email if recipient is not None else notification.email
    if not address:
        raise ValueError("recipient has no email address")
    with translation.override(notification.payload.get("language")):
        subject, text, html = render_email(notification)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=coaching_settings.from_email, to=[address],
        # The same Message-ID however often it is handed over: if a crash between sending and
        # recording it makes the sender try again, mail servers can drop the duplicate.
        headers={"Message-ID": f"<notification-{notification.pk}@{_message_domain()}>"},
    )
    if html:
        message.attach_alternative(html, "text/html")
    from ..scheduling.messages import calendar_attachment

    part = calendar_attachment(notification.payload)
    if part is not None:
        message.attach(part)
    message.send()


def _message_domain():
    return urlsplit(site_base_url()).hostname or "localhost"



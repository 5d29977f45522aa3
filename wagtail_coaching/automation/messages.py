"""The messages rules send: named templates (each an email template pair the site can
override, ``wagtail_coaching/emails/<kind>_subject.txt`` and ``<kind>.txt``) or a custom
text written in the rule."""

from django.template import Context, Engine, TemplateSyntaxError
from django.utils.translation import gettext_lazy as _

CUSTOM = "custom"
# Message kind of a custom text (its email template shows the rule's subject and text).
CUSTOM_KIND = "rule_message"

TEMPLATES = {
    CUSTOM: _("Custom text (below)"),
    "welcome": _("Welcome to the engagement"),
    "session_reminder": _("Session reminder"),
    "session_follow_up": _("After the session: summary and next practice"),
    "at_risk_alert": _("Client at risk (to the coach)"),
    "renewal_review": _("Renewal review before access ends"),
    "payment_problem": _("A payment failed"),
}

_engine = Engine(autoescape=False)


def render_text(text, context):
    """A rule's custom subject or text with ``{{ client_name }}`` and friends filled in.
    A broken placeholder leaves the text as written rather than failing the rule."""
    try:
        return _engine.from_string(text or "").render(Context(context))
    except TemplateSyntaxError:
        return text or ""

"""The messages rules send: named templates (each an email template pair the site can
override, ``wagtail_coaching/emails/<kind>_subject.txt`` and ``<kind>.txt``) or a custom
text written in the rule."""

from django.template import Context, Engine, TemplateSyntaxError

from ..notifications.kinds import rule_messages

# What a rule may send, by choice: its own text (``CUSTOM``) or a kind's templates.
TEMPLATES = rule_messages()

_engine = Engine(autoescape=False)


def render_text(text, context):
    """A rule's custom subject or text with ``{{ client_name }}`` and friends filled in.
    A broken placeholder leaves the text as written rather than failing the rule."""
    try:
        return _engine.from_string(text or "").render(Context(context))
    except TemplateSyntaxError:
        return text or ""

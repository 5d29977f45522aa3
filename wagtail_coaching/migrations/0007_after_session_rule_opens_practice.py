"""The built-in rule "After a session" stops sending its own generic note.

The coach's after-session message (summary and follow-up practices, sent when a session is
recorded as held) is the one message a client gets about a session; the rule keeps opening
the next practice of the program. A site that edited the rule keeps its version: only a rule
whose actions are still the shipped ones is changed. Written with literals, like 0002.
"""

import json

from django.db import migrations

KEY = "session-follow-up"
SHIPPED = [
    ("unlock_next", {"kind": "practice"}),
    ("notify", {"recipient": "client", "channel": "both", "template": "session_follow_up",
                "subject": "", "body": ""}),
]
NOW = {
    "name": "After a session: open the next practice",
    "description": "Opens the client's next practice. The coach's own after-session message "
                   "carries the summary.",
}


def _actions(raw):
    raw = getattr(raw, "raw_data", raw)  # a StreamValue: its stored blocks
    try:
        stream = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        return [(block.get("type"), block.get("value")) for block in stream]
    except (TypeError, ValueError, AttributeError):
        return None


def forwards(apps, schema_editor):
    AutomationRule = apps.get_model("wagtail_coaching", "AutomationRule")
    rule = AutomationRule.objects.filter(key=KEY).first()
    if rule is None:
        return
    raw = AutomationRule.objects.filter(pk=rule.pk).values_list("actions", flat=True).get()
    if _actions(raw) != SHIPPED:
        return
    AutomationRule.objects.filter(pk=rule.pk).update(
        actions=json.dumps([{"type": "unlock_next", "value": {"kind": "practice"}}]), **NOW
    )


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_coaching", "0006_practice_logs"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]

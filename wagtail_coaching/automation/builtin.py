"""The rules every site starts with (shipped enabled; edit or pause them in the admin).

Plain data, no models; actions are in StreamField's raw form. The migration that creates
them (``0002_builtin_rules``) holds its own copy as literals; ``tests/test_migrations.py``
checks that a migrated database has every rule of this list. A rule added here later needs
a migration that creates it.
"""


def _notify(recipient, template, channel="email"):
    return {"type": "notify", "value": {
        "recipient": recipient, "channel": channel, "template": template,
        "subject": "", "body": "",
    }}


BUILTIN_RULES = [
    {
        "key": "welcome",
        "name": "Welcome on enrollment",
        "description": "Greets every new client with the way to their dashboard.",
        "trigger": "enrolled",
        "actions": [_notify("client", "welcome", "both")],
    },
    {
        "key": "session-reminder-24h",
        "name": "Session reminder, 24 hours before",
        "description": "Reminds everyone holding a seat in a group session, and 1:1 clients.",
        "trigger": "session_upcoming",
        "hours": 24,
        "actions": [_notify("client", "session_reminder")],
    },
    {
        "key": "session-reminder-1h",
        "name": "Session reminder, 1 hour before",
        "description": "The last reminder, with the video link.",
        "trigger": "session_upcoming",
        "hours": 1,
        "actions": [_notify("client", "session_reminder", "both")],
    },
    {
        "key": "session-follow-up",
        "name": "After a session: open the next practice",
        # The coach's after-session message (continuity.follow_up) is the one message a
        # client gets about a session: this rule sends none of its own.
        "description": "Opens the client's next practice. The coach's own after-session "
                       "message carries the summary.",
        "trigger": "session_attended",
        "actions": [{"type": "unlock_next", "value": {"kind": "practice"}}],
    },
    {
        "key": "at-risk",
        "name": "At risk: no activity or missed sessions",
        "description": "Flags the client (no activity for 10 days, or two missed sessions in "
                       "a row: see metrics.py) and tells their coach.",
        "trigger": "at_risk",
        "actions": [
            {"type": "flag_at_risk", "value": {"reason": ""}},
            _notify("coach", "at_risk_alert", "both"),
        ],
    },
    {
        "key": "back-on-track",
        "name": "Back on track",
        "description": "Clears the at-risk flag when the client completes a step.",
        "trigger": "activity_completed",
        "actions": [{"type": "clear_at_risk", "value": None}],
    },
    {
        "key": "renewal-review",
        "name": "Renewal review, 14 days before access ends",
        "description": "Invites the client and their coach to review what comes next.",
        "trigger": "access_end_days",
        "days": 14,
        "actions": [_notify("client", "renewal_review"), _notify("coach", "renewal_review")],
    },
]

"""Every kind of message the package sends, declared once.

Each kind says how its recipient sees it on the preferences page (``label``), whether only
the coaching team receives it (``staff_only``: shown to staff only), whether the recipient
may switch it off (``optional``: security, payment and booking changes cannot be), and, for
the kinds an automation rule may send, how the rule editor names it (``rule_label``). The
preferences page, the outbox and the rule editor all read this list.

Plain declarations: nothing here imports the rest of the package, so blocks, models and
services can all read it.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Kind:
    """A kind of message (see the module's docstring)."""

    label: str
    optional: bool = True
    staff_only: bool = False
    rule_label: str = ""  # empty: no rule sends it


KINDS = {
    "welcome": Kind(_("Welcome when you join an engagement"),
                    rule_label=_("Welcome to the engagement")),
    "step_open": Kind(_("A new step of your journey is open")),
    "client_coach_assigned": Kind(_("Your coach is assigned or changes")),
    "session_invitation": Kind(_("Invitations to group sessions")),
    "session_reminder": Kind(_("Session reminders"), rule_label=_("Session reminder")),
    "session_follow_up": Kind(_("After a session: summary and next practice"),
                              rule_label=_("After the session: summary and next practice")),
    "one_to_one_summary": Kind(_("Your coach's summary of a 1:1 session")),
    # The one message after a held session: its summary and the practices it gave.
    "after_session": Kind(_("After a session: your coach's summary and practices")),
    "new_message": Kind(_("Messages from your coach")),
    "allotment_low": Kind(_("One 1:1 session left in your package")),
    "renewal_review": Kind(_("Renewal review before your access ends"),
                           rule_label=_("Renewal review before access ends")),
    # A rule's own text (``CUSTOM_KIND``).
    "rule_message": Kind(_("Other messages from your coaching team")),
    # Changes to what you are booked on, and payments: always sent.
    "session_confirmed": Kind(_("Your registration for a session"), optional=False),
    "session_waitlisted": Kind(_("You are on a session's waitlist"), optional=False),
    "session_promoted": Kind(_("A seat became free for you"), optional=False),
    "session_updated": Kind(_("A session you attend changed"), optional=False),
    "session_cancelled": Kind(_("A session you attend is cancelled"), optional=False),
    "session_attendee_cancelled": Kind(_("You left a session"), optional=False),
    "one_to_one_booked": Kind(_("A 1:1 session is booked"), optional=False),
    "one_to_one_rescheduled": Kind(_("A 1:1 session moved"), optional=False),
    "one_to_one_cancelled": Kind(_("A 1:1 session is cancelled"), optional=False),
    "one_to_one_coach_changed": Kind(_("A 1:1 session moves to another coach"),
                                     optional=False),
    "client_invitation": Kind(_("An invitation to choose your password"), optional=False),
    # To someone who asked about an offer (who may have no account): always sent.
    "enquiry_reply": Kind(_("Replies to your questions about an offer"), optional=False),
    "payment_problem": Kind(_("A payment failed"), optional=False,
                            rule_label=_("A payment failed")),
    # For the team.
    "coach_new_client": Kind(_("A new client is assigned to you"), staff_only=True),
    "coach_client_moved": Kind(_("A client moved to another coach"), staff_only=True),
    "coach_handoff": Kind(_("A colleague takes over a stage"), staff_only=True),
    "coach_co_coaching": Kind(_("You co-coach a client, or a colleague co-coaches yours"),
                              staff_only=True),
    "coach_co_coaching_ended": Kind(_("You no longer co-coach a client"), staff_only=True),
    "stage_needs_coach": Kind(_("A client reached a stage that has no coach yet"),
                              staff_only=True),
    "coach_session_assigned": Kind(_("You run a group session"), optional=False,
                                   staff_only=True),
    "coach_session_unassigned": Kind(_("You no longer run a group session"), optional=False,
                                     staff_only=True),
    "coach_session_updated": Kind(_("A session you run changed"), optional=False,
                                  staff_only=True),
    "coach_session_cancelled": Kind(_("A session you run is cancelled"), optional=False,
                                    staff_only=True),
    "coach_new_message": Kind(_("Messages from your clients (and your co-coaches)"),
                              staff_only=True),
    "coach_allotment_low": Kind(_("A client has one 1:1 session left"), staff_only=True),
    "enquiry_new": Kind(_("Someone asked about an offer (an enquiry for you)"),
                        staff_only=True),
    "at_risk_alert": Kind(_("A client is at risk"), staff_only=True,
                          rule_label=_("Client at risk (to the coach)")),
}


def notification_kinds():
    """Every kind of message, by name (a kind not listed here cannot be switched off)."""
    return dict(KINDS)


def optional_kinds():
    """The kinds a recipient may switch off, by name."""
    return {name: kind for name, kind in KINDS.items() if kind.optional}


def is_staff_kind(name):
    """Whether only the coaching team receives messages of kind ``name``."""
    kind = KINDS.get(name)
    return kind is not None and kind.staff_only


# What a rule sends when it writes its own text instead of a kind's templates, and the kind
# that text goes out as (its templates show the rule's subject and text).
CUSTOM = "custom"
CUSTOM_KIND = "rule_message"


def rule_messages():
    """{choice: label in the rule editor} of what an automation rule may send: its own text,
    or the templates of a kind declared for rules."""
    return {
        CUSTOM: _("Custom text (below)"),
        **{name: kind.rule_label for name, kind in KINDS.items() if kind.rule_label},
    }

"""How an automation rule reads in the admin: its trigger with its details, its
engagement, its conditions and each of its actions, in words."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ...automation.messages import TEMPLATES
from ...blocks.automation import CHANNELS, RECIPIENTS
from ...blocks.roles import coaching_role_choices
from ...models import Trigger
from ...notifications.kinds import CUSTOM


def trigger_text(rule):
    """The trigger with its details: "3 days after the enrollment starts"."""
    days, hours, threshold = rule.days or 0, rule.hours or 0, rule.threshold
    texts = {
        Trigger.ENROLLMENT_DAYS: lambda: ngettext(
            "%(n)d day after the enrollment starts", "%(n)d days after the enrollment starts",
            days) % {"n": days},
        Trigger.COHORT_DAYS: lambda: ngettext(
            "%(n)d day after the cohort starts", "%(n)d days after the cohort starts",
            days) % {"n": days},
        Trigger.ACCESS_END_DAYS: lambda: ngettext(
            "%(n)d day before the access ends", "%(n)d days before the access ends",
            days) % {"n": days},
        Trigger.NO_ACTIVITY: lambda: ngettext(
            "No activity for %(n)d day", "No activity for %(n)d days", days) % {"n": days},
        Trigger.SESSION_UPCOMING: lambda: ngettext(
            "%(n)d hour before a session", "%(n)d hours before a session", hours) % {"n": hours},
        Trigger.CHECK_IN_ABOVE: lambda: _("A check-in score is above %(n)s") % {
            "n": threshold},
        Trigger.CHECK_IN_BELOW: lambda: _("A check-in score is below %(n)s") % {
            "n": threshold},
        Trigger.FORM_ANSWER: lambda: _("“%(question)s” is answered “%(value)s”") % {
            "question": rule.question, "value": rule.value},
    }
    text = texts.get(rule.trigger)
    return text() if text else rule.get_trigger_display()


def engagement_text(rule):
    return rule.engagement.title if rule.engagement_id else _("All engagements")


def condition_texts(rule, program):
    texts = []
    if rule.activity_block_id:
        texts.append(_("for the activity %(activity)s") % {
            "activity": program.activity_title(rule.activity_block_id)})
    if rule.stage_block_id:
        texts.append(_("while the client is in the stage %(stage)s") % {
            "stage": program.stage_title(rule.stage_block_id)})
    if rule.company_id:
        texts.append(_("for clients of %(company)s") % {"company": rule.company.name})
    if rule.tag:
        texts.append(_("for clients tagged “%(tag)s”") % {"tag": rule.tag})
    return texts


def _label(choices, value):
    return str(dict(choices).get(value, value))


def action_text(child, program):
    """One action of the rule in words."""
    kind, value = child.block_type, child.value
    if kind == "unlock_activity":
        return _("Open the activity %(activity)s") % {
            "activity": program.activity_title(value["activity_block_id"])}
    if kind == "unlock_next":
        if value.get("kind"):
            return _("Open the next locked activity of type %(kind)s") % {
                "kind": _label(child.block.child_blocks["kind"].field.choices, value["kind"])}
        return _("Open the next locked activity")
    if kind == "add_activity":
        stream = value["activity"]
        title = (stream[0].value.get("title") if len(stream) else "") or ""
        where = (_("in the stage %(stage)s") % {
            "stage": program.stage_title(value["stage_block_id"])}
            if value.get("stage_block_id") else _("at the end of the journey"))
        return _("Add the extra activity “%(title)s” %(where)s") % {
            "title": title, "where": where}
    if kind == "assign_coach":
        role = _label(coaching_role_choices(), value.get("role") or "")
        text = _("Assign a coach (%(role)s) by the engagement's policy") % {"role": role}
        if value.get("hand_off"):
            text += _(", and tell the client's coach a colleague takes over")
        return text
    if kind == "notify":
        template = value.get("template") or CUSTOM
        if template == CUSTOM:
            message = value.get("subject") or ""
        else:
            message = TEMPLATES.get(template, template)
        message = f"“{message}”"
        return _("Send %(message)s to %(recipient)s (%(channel)s)") % {
            "message": message,
            "recipient": _label(RECIPIENTS, value.get("recipient") or "client").lower(),
            "channel": _label(CHANNELS, value.get("channel") or "email").lower(),
        }
    if kind == "flag_at_risk":
        if value.get("reason"):
            return _("Flag the client as at risk: %(reason)s") % {"reason": value["reason"]}
        return _("Flag the client as at risk")
    if kind == "clear_at_risk":
        return _("Clear the at-risk flag")
    if kind == "enroll":
        page = value.get("engagement")
        return _("Enroll the client in %(engagement)s") % {
            "engagement": f"“{page.title}”" if page else "?"}
    return child.block.label

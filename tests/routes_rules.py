"""Rows of the URL × role table for automation rules and the notification pages
(see tests/test_admin_matrix.py)."""

from wagtail_coaching.models import AutomationRule, Trigger

from .routes import Route


def add_rules(setup):
    """A rule for each engagement (so team A's and team B's coaches each see one) and one
    for all engagements (every coach sees it)."""
    w = setup.world
    flag = [{"type": "flag_at_risk", "value": {"reason": "matrix"}}]
    setup.automation_rules = [
        AutomationRule.objects.create(name=name, engagement=engagement,
                                      trigger=Trigger.ENROLLED, actions=flag)
        for name, engagement in (
            ("Matrix rule A", w.engagement_a), ("Matrix rule B", w.engagement_b),
            ("Matrix rule for all", None),
        )
    ]


def add_engagements(setup):
    setup.rule_engagements = [setup.world.engagement_a, setup.world.engagement_b]


def add_paused_rules(setup):
    add_rules(setup)
    AutomationRule.objects.update(active=False)


def rule_route(action, **kw):
    return Route(targets="automation_rules", lookup="view_automationrule", action=action,
                 prepare=kw.pop("prepare", add_rules), **kw)


RULE_ROUTES = {
    # The rules list, the form, the rule's page; coaches see their team's and global rules,
    # admins change them.
    "coaching_rules_modeladmin_index": Route(action="view_automationrule"),
    "coaching_rules_modeladmin_create": Route(
        action="change_automationrule", creates=AutomationRule
    ),
    "coaching_rules_modeladmin_edit": rule_route("change_automationrule"),
    "coaching_rules_modeladmin_inspect": rule_route("view_automationrule"),
    "wagtail_coaching_admin:rule_pause": rule_route("change_automationrule", method="post"),
    "wagtail_coaching_admin:rule_resume": rule_route(
        "change_automationrule", method="post", prepare=add_paused_rules
    ),
    "wagtail_coaching_admin:rule_dry_run": rule_route("view_automationrule"),
    # The rule editor's stages and steps of an engagement (JSON): rule editors only.
    "wagtail_coaching_admin:rule_program": Route(
        targets="rule_engagements", action="automate_engagement", prepare=add_engagements
    ),
    # Anyone signed in has their own notifications and settings.
    "wagtail_coaching:notifications": Route(admin=False),
    "wagtail_coaching:notification_settings": Route(admin=False),
}
